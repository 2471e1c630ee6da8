"""Download against a local HTTP server on loopback (the real archive cannot be reached in tests)."""

import hashlib
import http.server
import io
import tarfile
import threading

import pytest
from click.testing import CliRunner
from test_cifar10_npz import write_cifar10

from mlpcli.cli import cli
from mlpcli.data.cifar10 import load_cifar10
from mlpcli.data.download import download_dataset, extract_tar
from mlpcli.errors import DataError


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``self.server.payload``, honouring ``Range: bytes=N-`` like the real server does."""

    def do_GET(self):
        payload = self.server.payload
        self.server.requests.append(self.headers.get("Range"))
        start = int(self.headers["Range"][6:-1]) if self.headers.get("Range") else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(payload) - start))
        self.end_headers()
        self.wfile.write(payload[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    httpd = http.server.HTTPServer(("127.0.0.1", 0), RangeHandler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()


def make_archive(tmp_path) -> bytes:
    write_cifar10(tmp_path / "src" / "cifar-10-batches-py")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(tmp_path / "src" / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    return buffer.getvalue()


def test_download_verifies_and_unpacks(tmp_path, server):
    server.payload = make_archive(tmp_path)
    url = f"http://127.0.0.1:{server.server_port}/cifar-10-python.tar.gz"
    folder = download_dataset("cifar10", tmp_path / "dest", url=url, md5=hashlib.md5(server.payload).hexdigest())
    assert len(load_cifar10(folder, "train")) == 20
    assert not (tmp_path / "dest" / "cifar-10-python.tar.gz").exists()


def test_interrupted_download_resumes(tmp_path, server):
    server.payload = make_archive(tmp_path)
    dest = tmp_path / "dest"
    dest.mkdir()
    half = len(server.payload) // 2
    (dest / "cifar-10-python.tar.gz.part").write_bytes(server.payload[:half])
    url = f"http://127.0.0.1:{server.server_port}/cifar-10-python.tar.gz"
    download_dataset("cifar10", dest, url=url, md5=hashlib.md5(server.payload).hexdigest())
    assert server.requests == [f"bytes={half}-"]
    assert (dest / "cifar-10-batches-py" / "data_batch_5").is_file()


def test_md5_mismatch_fails_and_removes_the_file(tmp_path, server):
    server.payload = make_archive(tmp_path)
    url = f"http://127.0.0.1:{server.server_port}/cifar-10-python.tar.gz"
    result = CliRunner().invoke(cli, ["data", "download", "cifar10", "--dest", str(tmp_path / "d"), "--url", url])
    assert result.exit_code == 1
    assert "does not match the published c58f30108f718f92721af3b95e74349a" in result.stderr
    assert not any((tmp_path / "d").iterdir())


def test_unreachable_server_is_a_clear_error(tmp_path):
    with pytest.raises(DataError, match="download of .* failed .*run the command again"):
        download_dataset("cifar10", tmp_path, url="http://127.0.0.1:9/x.tar.gz", timeout=2)


@pytest.mark.parametrize(
    "name, kind", [("../escape.txt", tarfile.REGTYPE), ("/abs.txt", tarfile.REGTYPE), ("link", tarfile.SYMTYPE)]
)
def test_unsafe_archive_entries_are_refused(tmp_path, name, kind):
    archive = tmp_path / "evil.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.linkname = "/etc/passwd" if kind == tarfile.SYMTYPE else ""
        data = b"x" if kind == tarfile.REGTYPE else b""
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    (tmp_path / "out").mkdir()
    with pytest.raises(DataError, match="refusing unsafe archive entry"):
        extract_tar(archive, tmp_path / "out")
    assert not (tmp_path / "escape.txt").exists() and not any((tmp_path / "out").iterdir())
