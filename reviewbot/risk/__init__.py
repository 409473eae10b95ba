"""Risk ranking of hunks (issue 18): features from the triage prefill and the diff, and a small
trained read-out (reviewbot/data/risk/readout.npz) that turns them into a risk in [0, 1]."""
