import sys

from imageupdater.cli import main

sys.exit(main())
