#!/bin/sh
# .dmg recipe (macOS only).  NOT RUN OR TESTED: this project builds on Linux.
#   installers/macos/make_dmg.sh 0.1.0
# Before: PyInstaller with offline-assistant.spec, then the Rasa runtime into the bundle:
#   python-build-standalone cpython-3.10.*-<arch>-apple-darwin-install_only.tar.gz (relocatable)
#   unpacked to "dist/Offline Assistant.app/Contents/Resources/rasa-python", then
#   .../rasa-python/bin/python3.10 -m pip install rasa==3.6.21   (x86_64; on Apple silicon Rasa 3.6
#   needs tensorflow-macos: pin and test there), and rasa-seed/ copied to Contents/Resources/.
# Signing/notarisation (codesign --deep --options runtime, notarytool) are required for Gatekeeper.
set -eu
VERSION=${1:?version}
APP="dist/Offline Assistant.app"
[ -d "$APP" ] || { echo "error: $APP missing: run PyInstaller with installers/macos/offline-assistant.spec" >&2; exit 1; }
STAGE=$(mktemp -d)
cp -R "$APP" "$STAGE/"
ln -s /Applications "$STAGE/Applications"
hdiutil create -volname "Offline Assistant" -srcfolder "$STAGE" -ov -format UDZO \
  "dist/offline-assistant-$VERSION.dmg"
rm -rf "$STAGE"
