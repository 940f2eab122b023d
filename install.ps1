# Installs the vault-rag service for the current user (Windows). No administrator rights.
#
#   powershell -ExecutionPolicy Bypass -c "irm https://github.com/vault-rag/vault-rag/releases/latest/download/install.ps1 | iex"
#
# It takes the Windows archive from the release, checks it against the release's SHA256SUMS, and
# unpacks it into %LOCALAPPDATA%\Programs\vault-rag (vault-rag.exe with ONNX Runtime beside it),
# then adds that folder to the user's PATH. A wrong checksum or a missing archive installs nothing.
#
# Settings (environment variables):
#   VAULT_RAG_VERSION   a release such as 0.1.0 (default: the latest)
#   VAULT_RAG_BASE_URL  where the archives and SHA256SUMS are (default: the GitHub release)
#   VAULT_RAG_LIB_DIR   where the files go (default: %LOCALAPPDATA%\Programs\vault-rag)

$ErrorActionPreference = 'Stop'
$ProgressPreference = 'SilentlyContinue'
$RepoUrl = 'https://github.com/vault-rag/vault-rag'

function Say($Message) { Write-Host "vault-rag install: $Message" }
function Fail($Message) {
    Write-Host "vault-rag install: error: $Message" -ForegroundColor Red
    Write-Host 'vault-rag install: nothing was installed.'
    exit 1
}

# Only an x64 build exists; Windows on Arm runs it emulated.
$Target = 'x86_64-pc-windows-msvc'
if ($env:VAULT_RAG_BASE_URL) {
    $Base = $env:VAULT_RAG_BASE_URL.TrimEnd('/')
} elseif ($env:VAULT_RAG_VERSION) {
    $Base = "$RepoUrl/releases/download/v$($env:VAULT_RAG_VERSION.TrimStart('v'))"
} else {
    $Base = "$RepoUrl/releases/latest/download"
}
$LibDir = if ($env:VAULT_RAG_LIB_DIR) { $env:VAULT_RAG_LIB_DIR } else { Join-Path $env:LOCALAPPDATA 'Programs\vault-rag' }

function Fetch($Url, $File) {
    try {
        Invoke-WebRequest -Uri $Url -OutFile $File -UseBasicParsing
    } catch {
        $Status = $_.Exception.Response.StatusCode.value__
        if ($Status) { Fail "cannot download $Url (HTTP $Status)" }
        Fail "cannot download $Url ($($_.Exception.Message))"
    }
}

$Tmp = Join-Path ([IO.Path]::GetTempPath()) ("vault-rag-" + [Guid]::NewGuid())
New-Item -ItemType Directory -Path $Tmp | Out-Null
try {
    Say "looking for the $Target build at $Base"
    Fetch "$Base/SHA256SUMS" (Join-Path $Tmp 'SHA256SUMS')
    $Line = Get-Content (Join-Path $Tmp 'SHA256SUMS') | Where-Object { $_ -match "  (vault-rag-\S+-$Target\.zip)$" } | Select-Object -First 1
    if (-not $Line) { Fail "the release has no archive for $Target (see $Base/SHA256SUMS)" }
    $Want, $Archive = $Line -split '  ', 2

    Say "downloading $Archive"
    $ArchivePath = Join-Path $Tmp $Archive
    Fetch "$Base/$Archive" $ArchivePath
    $Got = (Get-FileHash -Algorithm SHA256 $ArchivePath).Hash.ToLower()
    if ($Got -ne $Want.ToLower()) {
        Fail "checksum mismatch for ${Archive}: expected $Want, got $Got (a damaged or altered download)"
    }

    $Unpacked = Join-Path $Tmp 'unpacked'
    Expand-Archive -Path $ArchivePath -DestinationPath $Unpacked
    $Src = Join-Path $Unpacked ($Archive -replace '\.zip$', '')
    if (-not (Test-Path (Join-Path $Src 'vault-rag.exe'))) { Fail "$Archive holds no vault-rag.exe" }

    # Replace the previous install only once the new one is complete. A running service keeps
    # its files locked: ask to stop it rather than leave a half-updated folder.
    $Parent = Split-Path $LibDir -Parent
    New-Item -ItemType Directory -Force -Path $Parent | Out-Null
    $Old = "$LibDir.old"
    if (Test-Path $Old) { Remove-Item -Recurse -Force $Old }
    if (Test-Path $LibDir) {
        try { Rename-Item -Path $LibDir -NewName (Split-Path $Old -Leaf) }
        catch { Fail "cannot replace $LibDir (is vault-rag still running? close Obsidian and try again)" }
    }
    Move-Item -Path $Src -Destination $LibDir
    if (Test-Path $Old) { Remove-Item -Recurse -Force $Old -ErrorAction SilentlyContinue }
} finally {
    Remove-Item -Recurse -Force $Tmp -ErrorAction SilentlyContinue
}

$Exe = Join-Path $LibDir 'vault-rag.exe'
$Version = & $Exe --version 2>&1
if ($LASTEXITCODE -ne 0) {
    Write-Host "vault-rag install: installed in $LibDir, but it does not start:" -ForegroundColor Red
    Write-Host $Version
    Write-Host 'It needs the Microsoft Visual C++ Redistributable (x64): https://aka.ms/vs/17/release/vc_redist.x64.exe'
    exit 1
}

$UserPath = [Environment]::GetEnvironmentVariable('Path', 'User')
if (-not (($UserPath -split ';') -contains $LibDir)) {
    $NewPath = if ($UserPath) { "$UserPath;$LibDir" } else { $LibDir }
    [Environment]::SetEnvironmentVariable('Path', $NewPath, 'User')
    Say "added $LibDir to your PATH (new terminals see it)"
}

Say "installed $Version"
Say "  command: $Exe"
Say 'next: in Obsidian, install the Vault RAG plugin and press "Check again" in its panel;'
Say '      or in a new terminal:  vault-rag index C:\path\to\your\vault'
