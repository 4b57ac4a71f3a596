"""Opening a zipped bundle safely: every entry is checked before anything is extracted.

A bundle comes from elsewhere (a colleague's machine, a USB stick), so a zip that would
write outside its folder (``..``, an absolute path, a drive letter), plant a link, or
unpack to far more than it claims is refused, naming the entry.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath

from core.errors import BundleError, BundleVerifyError

MAX_ENTRIES = 10_000
MAX_UNPACKED_BYTES = 64 * 1024**3
MAX_RATIO = 200  # uncompressed / compressed per entry; ONNX weights compress about 1.1x


def unsafe_reason(info: zipfile.ZipInfo) -> str | None:
    """Why an entry must not be extracted, or None when it is a plain, contained file."""
    name = info.filename
    if "\\" in name:
        return "a backslash in the path (a Windows path that may escape the folder)"
    path = PurePosixPath(name)
    if path.is_absolute() or (len(name) > 1 and name[1] == ":"):
        return "an absolute path"
    if ".." in path.parts:
        return "a '..' path that escapes the bundle folder"
    mode = info.external_attr >> 16
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    kind = stat.S_IFMT(mode)  # 0: a zip written without Unix file types (plain files)
    if kind and kind not in (stat.S_IFREG, stat.S_IFDIR):
        return "a special file (not a plain file or folder)"
    if info.compress_size and info.file_size / info.compress_size > MAX_RATIO:
        return "an implausible compression ratio (a zip bomb?)"
    return None


def check_zip(archive: zipfile.ZipFile) -> None:
    """Refuse the whole zip if any entry is unsafe.

    Raises:
        BundleVerifyError: an entry escapes the folder, is a link, or the zip is too large.
    """
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        raise BundleVerifyError("(zip)", f"{len(infos):,} entries; a bundle has a few dozen")
    seen: set[str] = set()
    for info in infos:
        reason = unsafe_reason(info)
        if reason is not None:
            raise BundleVerifyError(
                info.filename,
                f"refused: {reason}",
                "nothing was extracted; get the bundle again from its source",
            )
        if info.filename in seen:
            raise BundleVerifyError(info.filename, "refused: the entry appears twice")
        seen.add(info.filename)
    if sum(i.file_size for i in infos) > MAX_UNPACKED_BYTES:
        raise BundleVerifyError("(zip)", "refused: unpacks to more than 64 GiB")


def extract_bundle(path: Path, dest: Path) -> Path:
    """Check, then extract a zipped bundle into ``dest``; return the bundle's root folder.

    Raises:
        BundleError: the file is not a zip.
        BundleVerifyError: an entry is unsafe (nothing is extracted then).
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BundleError(
            f"{path} is neither a bundle folder nor a readable zip",
            "pass the folder or .zip that `stillroom export` wrote",
        ) from exc
    with archive:
        check_zip(archive)
        for info in archive.infolist():
            target = dest.joinpath(*PurePosixPath(info.filename).parts)
            if info.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(info) as source, open(target, "wb") as sink:
                shutil.copyfileobj(source, sink, 1 << 20)
    return dest
