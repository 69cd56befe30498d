#!/usr/bin/env python3
"""Make numbered contact sheets (4 x 3 grid) for rating the photos listed in photos.tsv.

Usage: make_sheets.py --tsv photos.tsv --photos DIR --out SHEETDIR
Needs Pillow. Each cell is 300x225, the photo letterboxed with its aspect kept,
and its id printed in the top-left corner.
"""
import argparse, csv, glob, os
from PIL import Image, ImageDraw, ImageFont, ImageOps

COLS, ROWS, CW, CH, PAD = 4, 3, 300, 225, 6

def font(size):
    for f in ('/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf',):
        if os.path.exists(f):
            return ImageFont.truetype(f, size)
    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--tsv', required=True)
    ap.add_argument('--photos', required=True)
    ap.add_argument('--out', required=True)
    a = ap.parse_args()
    ids = [r['id'] for r in csv.DictReader(open(a.tsv, newline=''), delimiter='\t')]
    os.makedirs(a.out, exist_ok=True)
    fnt = font(34)
    W, H = COLS * (CW + PAD) + PAD, ROWS * (CH + PAD) + PAD
    index = []
    per = COLS * ROWS
    for s in range(0, len(ids), per):
        sheet = Image.new('RGB', (W, H), (40, 40, 40))
        d = ImageDraw.Draw(sheet)
        chunk = ids[s:s + per]
        for k, pid in enumerate(chunk):
            x0 = PAD + (k % COLS) * (CW + PAD)
            y0 = PAD + (k // COLS) * (CH + PAD)
            d.rectangle([x0, y0, x0 + CW - 1, y0 + CH - 1], fill=(0, 0, 0))
            # photos may be named by id (p001.jpg) or by number (001.jpg)
            path = (glob.glob(os.path.join(a.photos, pid + '.*'))
                    or glob.glob(os.path.join(a.photos, pid.lstrip('p') + '.*')))
            if path:
                im = Image.open(path[0])
                im = ImageOps.exif_transpose(im)
                if im.mode in ('RGBA', 'LA', 'P'):
                    im = im.convert('RGBA')
                    bg = Image.new('RGBA', im.size, (0, 0, 0, 255))
                    im = Image.alpha_composite(bg, im)
                im = im.convert('RGB')
                im.thumbnail((CW, CH), Image.LANCZOS)
                sheet.paste(im, (x0 + (CW - im.width) // 2, y0 + (CH - im.height) // 2))
            bb = d.textbbox((0, 0), pid, font=fnt)
            tw, th = bb[2] - bb[0], bb[3] - bb[1]
            d.rectangle([x0, y0, x0 + tw + 12, y0 + th + 12], fill=(255, 230, 0))
            d.text((x0 + 6 - bb[0], y0 + 6 - bb[1]), pid, fill=(0, 0, 0), font=fnt)
        name = 'sheet_%02d.jpg' % (s // per + 1)
        sheet.save(os.path.join(a.out, name), quality=90)
        index.append((name, chunk))
    with open(os.path.join(a.out, 'index.tsv'), 'w') as f:
        f.write('sheet\tids\n')
        for name, chunk in index:
            f.write('%s\t%s\n' % (name, ','.join(chunk)))
    print('%d sheets' % len(index))

if __name__ == '__main__':
    main()
