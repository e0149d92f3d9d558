"""``python -m webhook.worker``: one serving process of ``image-updater admission --workers N``.

Started by the supervisor in ``webhook.workers``, never by hand: its settings arrive on stdin.
"""

from __future__ import annotations

import sys

from webhook.workers import worker_main

if __name__ == "__main__":
    sys.exit(worker_main())
