"""reviewbot: code review for git diffs by a local model; private code never leaves the machine."""
__version__ = '0.1.0'
