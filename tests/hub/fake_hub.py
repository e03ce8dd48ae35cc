#!/usr/bin/env python3
"""fake_hub.py - a Hugging Face Hub look-alike on loopback for the hub tests (standard library only).

    python3 fake_hub.py --root DIR [--token T] [--drop-once] [--corrupt] [--fail-first N]
                        [--stall] [--max-seconds S] [--model-dir ORG/NAME=DIR ...]

Writes its repos under DIR/data, their description to DIR/manifest.json, and one JSON line per
request to DIR/requests.jsonl (server, method, path, auth, range). Serves two origins on
127.0.0.1: the Hub ("main") and a CDN ("cdn") that LFS files are redirected to, so a test can
check that the token never leaves the Hub. Prints "PORTS <main> <cdn>" once both listen, then
serves until its stdin closes (the test that started it is gone), SIGTERM, or --max-seconds.

What it answers, as the Hub does:
  GET  /api/{models|datasets}/{org}/{name}[/revision/{rev}]  {"sha": commit, "siblings": [...]}
  HEAD|GET /[datasets/]{org}/{name}/resolve/{rev}/{path}
       small files: 200, X-Repo-Commit, ETag "<git blob sha1>", Content-Length, Range -> 206
       LFS files:   302 to the CDN, X-Repo-Commit, X-Linked-Etag "<sha256>", X-Linked-Size
       gated repo without the right Bearer token: 401 X-Error-Code GatedRepo
       404 with X-Error-Code RepoNotFound / RevisionNotFound / EntryNotFound
  HEAD|GET /cdn/{sha256} on the CDN port, with Range.
Faults: --drop-once closes the connection half way through the first body of 1 KiB or more;
--corrupt flips a byte of every body; --fail-first N answers 503 to the first N requests;
--stall sends a few bytes of each body and then nothing for 10 s.
"""
import argparse
import hashlib
import http.server
import json
import os
import random
import socket
import socketserver
import sys
import threading
import time
import urllib.parse

GATED = {("model", "test-org/gated-model")}  # these need the token


def folder_repo(folder):
    """A local folder's files (not its subfolders) as a repo: *.safetensors and files over
    1 MiB are LFS files, as the Hub stores them."""
    files = {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            with open(path, "rb") as f:
                data = f.read()
            files[name] = (data, name.endswith(".safetensors") or len(data) > (1 << 20))
    return files


def make_repos(model_dirs=()):
    """(type, id) -> {file name: (content, is it an LFS file)}; model_dirs: "org/name=DIR"
    entries served as model repos too."""
    rnd = random.Random(1234)
    big = rnd.getrandbits(8 * 256 * 1024).to_bytes(256 * 1024, "little")
    rows = "".join(json.dumps({"nums": [1, 2, 3, 4], "target": 10 + k % 90,
                               "search_path": "1+2=3\n3+3=6\n6+4=10\nGoal Reached!"}) + "\n"
                   for k in range(600))
    repos = {
        ("model", "test-org/tiny-model"): {
            "config.json": (b'{"model_type": "llama", "hidden_size": 64}\n', False),
            "model.safetensors": (big, True),
            "tokenizer/vocab.txt": (b"a\nb\nc\n", False),
        },
        ("model", "test-org/gated-model"): {
            "config.json": (b'{"model_type": "llama", "gated": true}\n', False),
        },
        ("dataset", "test-org/countdown"): {
            ".gitattributes": (b"*.json filter=lfs diff=lfs merge=lfs -text\n", False),
            "README.md": (b"# countdown\n", False),
            "train_backtrack.json": (rows.encode(), True),
            "val_backtrack.json": (rows[:2000].encode(), False),
        },
        ("dataset", "test-org/parquet-only"): {
            "README.md": (b"# parquet\n", False),
            "data/train-00000-of-00001.parquet": (b"PAR1" + big[:4096] + b"PAR1", True),
            "data/validation-00000-of-00001.parquet": (b"PAR1" + big[:512] + b"PAR1", False),
        },
    }
    for entry in model_dirs:
        rid, folder = entry.split("=", 1)
        repos[("model", rid)] = folder_repo(folder)
    return repos


def git_blob_sha1(data):
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class State:
    def __init__(self, args):
        self.args = args
        self.lock = threading.Lock()
        self.requests = 0
        self.dropped = False
        self.repos = {}
        self.by_sha256 = {}
        self.cdn_port = 0
        manifest = {}
        for (kind, rid), files in make_repos(args.model_dir).items():
            commit = hashlib.sha1(("%s/%s" % (kind, rid)).encode()).hexdigest()
            entry = {"commit": commit, "files": {}}
            for name, (data, lfs) in files.items():
                path = os.path.join(args.root, "data", kind, rid, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(data)
                sha256 = hashlib.sha256(data).hexdigest()
                entry["files"][name] = {"path": path, "size": len(data), "lfs": lfs,
                                        "sha256": sha256,
                                        "etag": sha256 if lfs else git_blob_sha1(data)}
                self.by_sha256[sha256] = data
            self.repos[(kind, rid)] = (commit, files)
            manifest["%ss/%s" % (kind, rid)] = entry
        with open(os.path.join(args.root, "manifest.json"), "w") as f:
            json.dump(manifest, f, indent=1)
        self.log = open(os.path.join(args.root, "requests.jsonl"), "a")

    def record(self, server, handler):
        with self.lock:
            self.requests += 1
            n = self.requests
            self.log.write(json.dumps({"n": n, "server": server, "method": handler.command,
                                       "path": handler.path,
                                       "auth": handler.headers.get("Authorization"),
                                       "range": handler.headers.get("Range")}) + "\n")
            self.log.flush()
        return n


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_name_tag = "main"

    def log_message(self, fmt, *args):  # quiet
        pass

    def do_HEAD(self):
        self.handle_request(head=True)

    def do_GET(self):
        self.handle_request(head=False)

    def reply(self, code, headers=(), body=b""):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def error(self, code, error_code, message):
        body = json.dumps({"error": message}).encode()
        self.reply(code, [("Content-Type", "application/json"), ("X-Error-Code", error_code),
                          ("X-Error-Message", message)], body)

    def handle_request(self, head):
        st = self.server.state
        n = st.record(self.server_name_tag, self)
        if n <= st.args.fail_first:
            self.reply(503, [("Retry-After", "0")], b"busy")
            return
        path = urllib.parse.urlsplit(self.path).path
        if self.server_name_tag == "cdn":
            return self.serve_cdn(path)
        parts = [urllib.parse.unquote(p) for p in path.split("/")[1:]]
        if parts[:1] == ["api"]:
            return self.serve_api(parts[1:])
        kind = "model"
        if parts[:1] == ["datasets"]:
            kind, parts = "dataset", parts[1:]
        if len(parts) < 5 or parts[2] != "resolve":
            return self.error(404, "EntryNotFound", "no such route")
        rid, rev, name = "/".join(parts[:2]), parts[3], "/".join(parts[4:])
        found = self.find_repo(kind, rid, rev)
        if not found:
            return
        commit, files = found
        if name not in files:
            return self.error(404, "EntryNotFound", "%s does not exist" % name)
        data, lfs = files[name]
        sha256 = hashlib.sha256(data).hexdigest()
        common = [("X-Repo-Commit", commit)]
        if lfs:
            location = "http://127.0.0.1:%d/cdn/%s?expires=1" % (st.cdn_port, sha256)
            self.reply(302, common + [("Location", location),
                                      ("ETag", '"%s"' % git_blob_sha1(b"pointer " + data[:16])),
                                      ("X-Linked-Etag", '"%s"' % sha256),
                                      ("X-Linked-Size", str(len(data)))])
            return
        self.serve_body(data, common + [("ETag", '"%s"' % git_blob_sha1(data))])

    def find_repo(self, kind, rid, rev):
        st = self.server.state
        if (kind, rid) not in st.repos:
            self.error(404, "RepoNotFound", "Repository not found")
            return None
        if (kind, rid) in GATED and self.headers.get("Authorization") != "Bearer " + st.args.token:
            self.error(401, "GatedRepo", "Access to this repo is restricted")
            return None
        commit, files = st.repos[(kind, rid)]
        if rev not in ("main", "v1.0", commit):
            self.error(404, "RevisionNotFound", "Invalid rev id: " + rev)
            return None
        return commit, files

    def serve_api(self, parts):
        if len(parts) < 3 or parts[0] not in ("models", "datasets"):
            return self.error(404, "RepoNotFound", "no such route")
        kind, rid = parts[0][:-1], "/".join(parts[1:3])
        rev = parts[4] if len(parts) >= 5 and parts[3] == "revision" else "main"
        found = self.find_repo(kind, rid, rev)
        if found:
            commit, files = found
            body = json.dumps({"id": rid, "sha": commit,
                               "siblings": [{"rfilename": f} for f in sorted(files)]}).encode()
            self.reply(200, [("Content-Type", "application/json")], body)

    def serve_cdn(self, path):
        data = self.server.state.by_sha256.get(path.rsplit("/", 1)[-1])
        if data is None:
            return self.reply(404, [], b"no such object")
        self.serve_body(data, [("ETag", '"%s"' % hashlib.sha256(data).hexdigest())])

    def serve_body(self, data, headers):
        st = self.server.state
        start, code = 0, 200
        rng = self.headers.get("Range")
        if rng and rng.startswith("bytes=") and rng[6:].endswith("-"):
            start = int(rng[6:-1])
            if start >= len(data):
                return self.reply(416, [("Content-Range", "bytes */%d" % len(data))])
            code = 206
            headers = headers + [("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))]
        body = data[start:]
        if st.args.corrupt and body:
            mid = len(body) // 2
            body = body[:mid] + bytes([body[mid] ^ 0xFF]) + body[mid + 1:]
        self.send_response(code)
        for k, v in headers + [("Accept-Ranges", "bytes"), ("Content-Length", str(len(body)))]:
            self.send_header(k, v)
        self.end_headers()
        if self.command == "HEAD":
            return
        with st.lock:
            drop = st.args.drop_once and not st.dropped and len(body) >= 1024
            st.dropped = st.dropped or drop
        if drop or st.args.stall:
            self.wfile.write(body[: len(body) // 2 if drop else 16])
            self.wfile.flush()
            if st.args.stall:
                time.sleep(10)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        self.wfile.write(body)


class CdnHandler(Handler):
    server_name_tag = "cdn"


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def server_bind(self):
        # HTTPServer's own asks DNS for the host's name (getfqdn): slow, and not loopback-only
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", required=True)
    ap.add_argument("--token", default="hf_test_token")
    ap.add_argument("--drop-once", action="store_true")
    ap.add_argument("--corrupt", action="store_true")
    ap.add_argument("--fail-first", type=int, default=0)
    ap.add_argument("--stall", action="store_true")
    ap.add_argument("--max-seconds", type=float, default=300)
    ap.add_argument("--model-dir", action="append", default=[], metavar="ORG/NAME=DIR",
                    help="also serve the files of DIR as the model repo ORG/NAME")
    args = ap.parse_args()
    os.makedirs(args.root, exist_ok=True)
    state = State(args)
    servers = []
    for handler in (Handler, CdnHandler):
        srv = Server(("127.0.0.1", 0), handler)
        srv.state = state
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    state.cdn_port = servers[1].server_address[1]
    print("PORTS %d %d" % (servers[0].server_address[1], state.cdn_port), flush=True)

    def wait_stdin():
        try:
            while sys.stdin.buffer.read(4096):
                pass
        except OSError:
            pass
        os._exit(0)

    threading.Thread(target=wait_stdin, daemon=True).start()
    time.sleep(args.max_seconds)
    os._exit(0)


if __name__ == "__main__":
    main()
