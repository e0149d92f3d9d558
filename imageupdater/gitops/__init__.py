"""The pure side of git write-back: what goes into the repository.

Target paths (``paths``), file edits (``overridefile``, ``kustomization``, ``helmvalues``),
the YAML scalar rule they share (``yamlscalars``), the Go-template subset upstream users
write (``template``) and the commit messages, branch names and pull-request texts rendered
from it (``messages``). No I/O, no clock: the git writer in the reconciler reads and writes
the work tree and calls these.
"""
