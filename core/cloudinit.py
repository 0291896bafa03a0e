"""Config-drive files delivered as cloud-init ``write_files`` inside user_data.

Nova dropped file injection (``personality``) at microversion 2.57, Ironic and
Zun never had it: what every modern backend does have is user_data.  This
module turns the spec's ``config_drive_files`` into a ``#cloud-config`` part
with ``write_files`` (gzip + base64, so 5 x 10 KiB fits comfortably) and merges
it with the caller's own user_data as multipart MIME, which cloud-init reads
part by part.  It never logs contents.
"""

from __future__ import annotations

import base64
import gzip
import json
from collections.abc import Mapping
from email.mime.application import MIMEApplication
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from typing import Any

#: cloud-init's own MIME types for each kind of part it understands.
_MIME_BY_PREFIX = {
    "#cloud-config": "cloud-config",
    "#!": "x-shellscript",
    "#cloud-boothook": "cloud-boothook",
    "#include": "x-include-url",
    "#part-handler": "part-handler",
}


def write_files_config(files: Mapping[str, bytes], *, compress: bool = True) -> dict[str, Any]:
    """The ``#cloud-config`` document (as a dict) that writes ``files`` at boot."""
    entries = []
    for path, data in sorted(files.items()):
        payload = gzip.compress(data, mtime=0) if compress else data
        entries.append({
            "path": path,
            "encoding": "gz+b64" if compress else "b64",
            "content": base64.b64encode(payload).decode("ascii"),
            "permissions": "0600",
            "owner": "root:root",
        })
    return {"write_files": entries}


def _subtype(user_data: bytes) -> str:
    head = user_data.lstrip()[:32].decode("utf-8", errors="replace")
    for prefix, subtype in _MIME_BY_PREFIX.items():
        if head.startswith(prefix):
            return subtype
    return "x-shellscript" if head.startswith("#!") else "plain"


def merge_user_data(user_data: bytes | None, files: Mapping[str, bytes], *,
                    compress: bool = True) -> bytes:
    """user_data that also writes ``files``: the caller's data unchanged when there are none.

    The result is a multipart MIME document: first the ``write_files`` part,
    then the caller's user_data (its cloud-init type kept, judged from its
    first line).
    """
    if not files:
        return user_data or b""
    message = MIMEMultipart()
    # JSON is valid YAML, and cloud-init's cloud-config parser reads it.
    config = "#cloud-config\n" + json.dumps(write_files_config(files, compress=compress))
    message.attach(MIMEText(config, "cloud-config", "us-ascii"))  # 7bit: no second base64
    if user_data:
        part: MIMEBase
        try:
            part = MIMEText(user_data.decode("utf-8"), _subtype(user_data), "utf-8")
        except UnicodeDecodeError:  # binary user_data travels as it is
            part = MIMEApplication(user_data, "octet-stream")
        part.add_header("Content-Disposition", 'attachment; filename="user-data"')
        message.attach(part)
    return message.as_bytes()


def encoded_size(user_data: bytes) -> int:
    """Size of ``user_data`` once base64-encoded, as Nova counts it against 65535 bytes."""
    return len(base64.b64encode(user_data))
