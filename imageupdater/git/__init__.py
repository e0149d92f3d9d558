"""The git adapter: the ``git`` CLI run as a child process, never a shell.

* ``auth`` — the controlled environment a git process runs in: credentials handed over
  through an askpass script that reads them from that environment, SSH keys and TLS client
  keys in 0600 files removed afterwards, host keys and TLS checked unless the credentials
  say ``insecure``. Nothing secret is ever on a command line or in a repository's config.
* ``repos`` — a persistent cache of bare repositories (one per URL), shallow fetches of the
  branches a write needs, reads of a commit's files, commits built without a work tree, and
  pushes (plain, or with a lease on branches the updater owns); git's failures classified
  into the ``GitError`` family.
"""
