"""The names of the files a run folder (or a seed sweep's folder) holds, for the modules that
write or guard them (the layout is described in ``experiment/runs.py``)."""

SWEEP = "sweep.json"  # a seed sweep's metrics across seeds, beside its members' directories
LOCK = ".lock"  # held by the process that trains into the folder (``experiment/lock.py``)

#: Files directly in a run's (or a sweep's) folder that belong to it; everything in a run's
#: sub-folders (checkpoints/, figures/, ...) belongs to it too.
RUN_FILES = ("config.yaml", "summary.json", "eval.json", "metrics.jsonl", "fd_mnist.jsonl",
             SWEEP, LOCK)
