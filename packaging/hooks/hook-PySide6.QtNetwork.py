# Replaces PyInstaller's hook for PySide6.QtNetwork: the module without its plugins (TLS
# backends, network information). Stillroom's window makes no network connections.
from PyInstaller.utils.hooks.qt import add_qt6_dependencies

hiddenimports, binaries, datas = add_qt6_dependencies(__file__)
binaries = [(source, dest) for source, dest in binaries if "/plugins/" not in dest + "/"]
