"""Argo CD sync windows (an AppProject's ``spec.syncWindows``) and whether an update may go in now.

Owns reading the windows strictly (every mistake is an error naming the window), matching a
window to an Application the way Argo CD does, when a window is active, and the decision
``can_update`` with the moment the answer can next change. Pure: the clock is a parameter.

Argo CD's rules, kept here: a window matches an Application when any of its non-empty lists
(``applications`` by name, ``clusters`` by destination name or server, ``namespaces`` by
destination namespace; gobwas globs) matches, or all of them with ``andOperator``. A window
is active from each fire of its cron schedule for ``duration``, start included, end excluded.
Among the matching windows an active deny blocks; otherwise an active allow allows; otherwise
any (inactive) allow blocks; otherwise updates go in. Our writes are automated, so
``manualSync`` never unblocks them; ``syncOverrun`` concerns syncs already running and does
not change the decision. Stricter than upstream: a bad schedule, duration or time zone, a glob
that does not compile, or a window that selects nothing is an error, not a silent no-op.
"""

from __future__ import annotations

__all__ = ["InvalidSyncWindow", "SyncDecision", "SyncWindow", "can_update", "parse_windows"]

from imageupdater.syncwindows.decision import SyncDecision, can_update
from imageupdater.syncwindows.window import InvalidSyncWindow, SyncWindow, parse_windows
