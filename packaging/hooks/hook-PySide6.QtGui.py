# Replaces PyInstaller's hook for PySide6.QtGui: the same collection, but only the Qt plugins
# Stillroom uses (platforms xcb/offscreen/minimal, SVG icons and images, input methods).
# Filtering here, before the binary analysis, also keeps out what the dropped plugins link
# (GTK, Wayland, EGLFS, Qt Quick for the virtual keyboard, Qt PDF).
import fnmatch

from PyInstaller.utils.hooks.qt import add_qt6_dependencies

KEPT = (
    "platforms/libqxcb.so",
    "platforms/libqoffscreen.so",
    "platforms/libqminimal.so",
    "xcbglintegrations/*",
    "imageformats/libqsvg.so",
    "imageformats/libqico.so",
    "imageformats/libqjpeg.so",
    "iconengines/libqsvgicon.so",
    "platforminputcontexts/libcomposeplatforminputcontextplugin.so",
    "platforminputcontexts/libibusplatforminputcontextplugin.so",
)


def _kept(entry):
    source, dest = entry
    dest = dest.replace("\\", "/")
    if "/plugins/" not in dest + "/":
        return True
    plugin = dest.split("/plugins/", 1)[1] + "/" + source.replace("\\", "/").rsplit("/", 1)[1]
    return any(fnmatch.fnmatch(plugin, pattern) for pattern in KEPT)


hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
binaries = [entry for entry in binaries if _kept(entry)]
