"""Interactive use: start the local stack, print how to reach it, wait for Ctrl-C.

    .venv/bin/python local/harness [APPROVAL_TIMEOUT_HOURS]      (default 24)
"""

import sys
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a directory: make the package importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import LocalStack  # noqa: E402


def main():
    hours = sys.argv[1] if len(sys.argv) > 1 else "24"
    with LocalStack(approval_timeout_hours=hours) as s:
        s.warm_up()
        print(f"moto: http://127.0.0.1:{s.moto_port}  router: http://127.0.0.1:{s.router.port}\n"
              f"approval server: {s.approval_url}/approvals/<execution name>?key=...\n"
              f"state machine: {s.state_machine_arn}\nCtrl-C to stop.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
