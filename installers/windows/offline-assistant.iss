; Inno Setup 6 script for the Windows installer.  NOT BUILT OR TESTED (this project builds on Linux).
;   iscc /DAppVersion=0.1.0 installers\windows\offline-assistant.iss
; Input: dist\offline-assistant\ from offline-assistant.spec, with rasa-python\ (Python 3.10 +
; rasa==3.6.21) and rasa-seed\ added (see installers/README.md, "Windows").
; Output: dist\offline-assistant-<version>-setup.exe
#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#define SrcDir "..\..\dist\offline-assistant"

[Setup]
AppId={{6C1F4E0A-5A8B-4C2B-9B64-0F5E7A1D2C31}
AppName=Offline Assistant
AppVersion={#AppVersion}
AppPublisher=Offline Assistant developers
DefaultDirName={autopf}\Offline Assistant
DefaultGroupName=Offline Assistant
OutputDir=..\..\dist
OutputBaseFilename=offline-assistant-{#AppVersion}-setup
#if FileExists(AddBackslash(SourcePath) + "offline-assistant.ico")
SetupIconFile=offline-assistant.ico
#endif
UninstallDisplayIcon={app}\assistant-gui.exe
Compression=lzma2/ultra64
SolidCompression=yes
LZMANumBlockThreads=4
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
PrivilegesRequiredOverridesAllowed=dialog
LicenseFile=..\..\LICENSE
DiskSpanning=no

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked
; Autostart: the app's Settings can switch it on later (shortcut in the user's Startup folder)
Name: "autostart"; Description: "Start Offline Assistant when I sign in"; Flags: unchecked

[Files]
Source: "{#SrcDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[Icons]
Name: "{group}\Offline Assistant"; Filename: "{app}\assistant-gui.exe"
Name: "{group}\Uninstall Offline Assistant"; Filename: "{uninstallexe}"
Name: "{autodesktop}\Offline Assistant"; Filename: "{app}\assistant-gui.exe"; Tasks: desktopicon
Name: "{userstartup}\Offline Assistant"; Filename: "{app}\assistant-gui.exe"; Parameters: "--hidden"; Tasks: autostart

[Run]
Filename: "{app}\assistant-gui.exe"; Description: "{cm:LaunchProgram,Offline Assistant}"; Flags: nowait postinstall skipifsilent

[UninstallDelete]
; byte-code caches written at run time; user data in %APPDATA% / %LOCALAPPDATA% stays
Type: filesandordirs; Name: "{app}\rasa-python\Lib\site-packages\*\__pycache__"
