"""Language of a comment by script: zh, en, mixed or other.

Short customer comments defeat statistical language identifiers, but the question here is
narrow: Han characters mean Chinese, Latin letters mean English (the only Latin-script
language the product analyses). A comment is "mixed" when the minority script is a real
part of it, not a brand name: at least 2 Latin words and 25% of the letters, or 2 Han
characters and 25% of the letters. Brand tokens such as "app" or "iPhone" inside Chinese
text stay zh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[A-Za-z]+(?:'[A-Za-z]+)?")
OTHER_LETTER = re.compile(r"[^\W\d_A-Za-z\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
MINORITY_SHARE = 0.25


@dataclass(frozen=True)
class LanguageGuess:
    language: str  # zh | en | mixed | other
    zh_share: float  # share of Han characters among letters (Han + Latin)


def detect(text: str) -> LanguageGuess:
    han = len(HAN.findall(text))
    words = LATIN_WORD.findall(text)
    latin = sum(len(w) for w in words)
    other = len(OTHER_LETTER.findall(text))
    # A Latin word is worth its length in letters, a Han character roughly a word: weigh
    # Han x2 so that "app 又闪退" counts as mostly Chinese.
    han_weight = han * 2
    letters = han_weight + latin
    if letters == 0 or other > letters:
        return LanguageGuess("other", 0.0)
    zh_share = han_weight / letters
    if han == 0:
        return LanguageGuess("en", 0.0)
    if not words:
        return LanguageGuess("zh", 1.0)
    if len(words) >= 2 and (1 - zh_share) >= MINORITY_SHARE and han >= 2 and \
            zh_share >= MINORITY_SHARE:
        return LanguageGuess("mixed", round(zh_share, 3))
    return LanguageGuess("zh" if zh_share >= 0.5 else "en", round(zh_share, 3))
