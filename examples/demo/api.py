"""Prints what a small Python API prints: it crashes on the first start
(a real traceback), and comes up on the restart brum gives it."""
import os
import sys
import time

marker = os.path.join(os.path.dirname(os.path.abspath(__file__)), ".api-started-once")
if not os.path.exists(marker):
    open(marker, "w").close()
    print("api: loading settings", flush=True)
    time.sleep(0.3)

    def connect(url):
        raise ConnectionRefusedError(f"[Errno 111] Connection refused: {url}")

    connect("postgres://127.0.0.1:5432/app")
os.remove(marker)
print("INFO:     Started server process", flush=True)
print("INFO:     Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)", flush=True)
for i in range(3):
    time.sleep(0.7)
    print(f'INFO:     127.0.0.1:5{i}812 - "GET /api/items HTTP/1.1" 200 OK', flush=True)
print("api: shutting down", file=sys.stderr, flush=True)
