"""Prints what a small Python API prints. It waits for nothing itself: brum
starts it once the database is ready (a readiness probe in brum.toml). One
request fails with a real traceback that the server logs (the process goes
on); the API then shuts down."""
import sys
import time

print("INFO:     Started server process", flush=True)
print("INFO:     Uvicorn running on http://127.0.0.1:8000 (Press CTRL+C to quit)", flush=True)


def load_item(items, key):
    return items[key]


for i in range(3):
    time.sleep(0.6)
    if i == 1:
        try:
            load_item({"a": 1}, "b")
        except KeyError:
            print('INFO:     127.0.0.1:51812 - "GET /api/items/b HTTP/1.1" 500 Internal Server Error', flush=True)
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
        continue
    print(f'INFO:     127.0.0.1:5{i}812 - "GET /api/items HTTP/1.1" 200 OK', flush=True)
print("api: shutting down", file=sys.stderr, flush=True)
