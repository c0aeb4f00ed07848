#!/usr/bin/env python3
"""Builds the watermark's synonym table from WordNet 3.0 (Debian's wordnet-base).

Writes small, high-precision groups of single words that can replace each
other in running text without a part-of-speech tagger:
  * every member's dominant sense (sense 1, by SemCor tag counts) is the
    group's synset, and that sense carries most of the word's tagged uses
    across all parts of speech (so "use" the noun and "use" the verb never
    swap with a verb-only synonym);
  * every member is common (tagged at least MIN_COUNT times in SemCor) and
    within a factor MAX_RATIO of the group's most frequent member;
  * a word belongs to one group only.
Regular inflections are added for verbs (-s, -ed, -ing) and nouns (plural)
when every member inflects regularly (WordNet's exception lists decide).

WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved.
Licensed under the WordNet 3.0 licence (see /usr/share/doc/wordnet-base/copyright):
use, copy, modify and distribute for any purpose without fee, provided the
copyright notice and the disclaimer appear on all copies. The generated file
repeats them.

Optional reference text (JSON Lines with "text"/"output" fields, e.g. the
project's shared prompt corpora other than the evaluation set) sets which
surface forms are common: every member must occur MIN_REF times and the
members' frequencies must be within MAX_REF_RATIO of each other.

Hand-curated groups (tools/curated_groups.tsv, with their inflected forms)
come first, each member kept only when WordNet links it to another member
(see that file); then the pairs of CURATED below, then the derived groups.

usage: make_synonyms.py [--wordnet DIR] [REFERENCE.jsonl ...] > distillguard-synonyms.tsv
"""
import collections
import re
import sys

WN = "/usr/share/wordnet"
REF_FILES = []
_args = sys.argv[1:]
while _args:
    a = _args.pop(0)
    if a == "--wordnet":
        WN = _args.pop(0)
    else:
        REF_FILES.append(a)
MIN_COUNT = 1       # SemCor tags of the member's dominant sense
DOMINANCE = 0.34    # share of the word's tagged uses (all POS) in the group's sense
MAX_RATIO = 30.0    # most frequent member / least frequent member (SemCor)
MIN_REF = 2         # occurrences of every surface form in the reference text
MAX_REF_RATIO = 100.0  # frequency ratio of the members in the reference text
MAX_GROUP = 4
WORD = re.compile(r"^[a-z]{3,}$")
POS_FILES = {"n": "noun", "v": "verb", "a": "adj", "r": "adv"}
SS_TYPE = {"1": "n", "2": "v", "3": "a", "4": "r", "5": "a"}
# Words that swap badly whatever WordNet says (register, idiom, or a common
# second reading that SemCor under-counts).
AVOID = set("""
like just even still well right kind sort mean fine fair pretty quite rather
ill sick dead gay queer bloody damn hell god lord christ man woman boy girl
get got make made take put set let give go come see say tell ask
about part parts portion lay place class classes category categories range scope
found program way ways fashion mode manner being existence family household
model crimson athletics earth globe keep degree rock rocks away off center middle
case cases instance instances null void cardinal store shop shooting shot document
papers writing authorship move travel race racing rushing rush complete completed
completes finish finished finishes conception engaging engage pursue pursuing ussr
babe faith religion kid helper engineering technology castle palace results effects
result effect mobile wandering fault portrayal introduction debut source sources
origin origins looking sounding plane airplane rest remainder round circular grounds
commission committee foreman holding retention disputes dispute challenges challenge
comments remarks comment remark domain arena sphere setup apparatus eventually
finally printing print printed publishing publish published attached connected
affiliated eating feeding finding determination factory mill remains devil lucifer
fleet swift earlier earliest matter affair configuration constellation matching twin
hood punk computing calculating package packet bundle reward wages defining shaping
alignment coalition replacement replacing parsons curse swear heap pile project
projects task tasks element elements process procedure velocity director manager
marketing selling religious spiritual comic schemes scheme advertising regard
district territory districts territories minimal minimum suited settlement
settlements assurance confidence autonomy liberty tune melody bulk aged older
alone magic magical agency bureau link linked serial epoch accepted recognized
recall bush lack deficiency daylight daytime heaven paradise aids aid dear teen
teenage families households precedence priority bias prejudice partner spouse
promotion publicity crossing cross traverse traversing jan feb aug sept oct nov dec
noted select react fort garrison little bible scripture
developing underdeveloped genetic transmitted red reddish lot mint nothing zero plant
works province state provinces states live populate lived populated apply use gal
gallon min minute bringing delivery signal signaling battle engagement battles
engagements champs fence fencing barbed biting afflicted stricken given granted
compound deepen contend postulate dispense distribute enacted ordained estimate gauge
merchandise product rating valuation rundown summation detection sensing endowment
talent maroons strands rely trust pacing tempo measurement measuring forte specialty
inside indoors bullet slug plain merge unify imitate simulate happening occurrence
excursion outing preaching sermon clergyman reverend daddy papa mamma mommy granny
dub purely strictly retrieve infirmary electors rain rainfall
authorities building edifice prise going leaving unparalleled steps champs
integrating ambiance marked appear appears appeared below reach advocate percent
done through individual single metal metallic abstract abstraction key analogue
parallel aggregate mass dozen twelve alien foreigner bash smash epic heroic
last close number total three trio phrase word sec second beast discovered
observed associated related dice die complex composite petition request mouth
speak approach near answer reply outdoors outside attempt effort try delight
please likely probably promote advertise advertize advertising advertizing
advertised advertized talk talking fly wing vote voting directly straight chance
opportunity patrol police champ champs champion wish wishing assumption premise
preserve uphold contribute lend lately recently suggest propose
growing growth job jobs occupation occupations verse controller controllers
compute computing calculate calculating frog frogs toad toads diagnosis diagnosing
procure procured secure secured boost boosts boosted boosting
forest woods circumstances luck earnings profit profits
concerning pertaining concern pertain war warfare desired wanted desire want
compliment congratulate
""".split())
# (The second block: swaps that read badly in answers, found by reading the
# most frequent groups of the table on real text: "the last time" / "the close
# time", "in other words" / "in other phrases", "the three" / "the trio",
# "please" / "delight", "is likely to" / "is probably to"; then "the growing demand" /
# "the growth demand", "a good job" / "a good occupation", "Verse 1" / "Poetry 1", "motor controller" /
# "motor accountant", "a computing system" / "a calculating system", "frog" / "toad",
# "diagnosis" / "diagnosing", "secured" / "procured", "entropy increases" / "entropy
# boosts"; then groups whose members differ in number: "a forest" / "a woods", "under these
# circumstances" / "under these luck", "a profit" / "a earnings".; then "really concerning" /
# "really pertaining", "the war" / "the warfare", "I wanted to" / "I desired to"; then "compliment
# the chef" / "congratulate the chef".)

# Words with a common second part of speech ("the need" / "to need"): their
# groups are kept but used only after a cue word that fixes the part of speech
# (the scanner's cue lists, enforcement/watermark_synonyms.cpp). Words whose
# SemCor uses in other parts of speech exceed CROSS_POS of their total are
# cued as well.
CUED = set("""
help show need needs start permit guarantee stress notice feature features attempt
purchase common usual hard chief principal thought thoughts answer desire want film
shows guarantees permits attempts purchases notices answers desires wants films helps
stresses
""".split())
CROSS_POS = 0.2

# Frequent formal-English swaps that the dominant-sense rule misses because
# one member is polysemous in general text (e.g. "show"). Each pair is kept
# only if WordNet lists both words in one synset of that part of speech.
# (Pairs that broke common phrases were taken out: "how many" / "how
# numerous", "in particular", "in common", "talk about" / "discuss about",
# "significantly" / "importantly", "several" / "various".)
CURATED = [
    ("v", "show", "demonstrate"), ("v", "ensure", "guarantee"), 
    ("v", "require", "need"), ("v", "allow", "permit"), 
    ("v", "reduce", "decrease"), ("v", "create", "produce"), ("v", "obtain", "acquire"),
    ("v", "enhance", "heighten"), ("v", "assess", "evaluate"), 
    ("v", "describe", "depict"), 
    ("v", "examine", "analyze"), 
    ("v", "reach", "achieve"), ("v", "utilize", "employ"), 
    ("v", "continue", "proceed"),
    ("v", "determine", "establish"), ("v", "emphasize", "stress"),
    ("v", "protect", "shield"), ("v", "gather", "collect"),
    ("a", "important", "significant"), 
    ("a", "essential", "necessary"),
    ("a", "quick", "fast"), 
    ("a", "entire", "whole"), ("a", "crucial", "critical"),
    
    ("a", "difficult", "hard"), ("a", "additional", "extra"),
    ("a", "modern", "contemporary"),
    ("a", "enough", "sufficient"), ("a", "global", "worldwide"), 
    ("r", "however", "nevertheless"), ("r", "usually", "commonly"),
    ("r", "especially", "particularly"), ("r", "quickly", "rapidly"), ("r", "easily", "readily"),
    ("r", "additionally", "furthermore"), ("r", "currently", "presently"),
    
    ("n", "example", "illustration"), ("n", "goal", "aim"), ("n", "benefit", "advantage"),
    ("n", "issue", "problem"), ("n", "customer", "client"),
    

]

def read_index():
    senses = {}  # (lemma, pos) -> [offsets], in sense order
    for pos, name in POS_FILES.items():
        with open(f"{WN}/index.{name}", encoding="latin-1") as f:
            for line in f:
                if line.startswith(" "):
                    continue
                parts = line.split()
                lemma, p = parts[0], parts[1]
                synset_cnt, p_cnt = int(parts[2]), int(parts[3])
                offsets = parts[6 + p_cnt:6 + p_cnt + synset_cnt]
                senses[(lemma, pos)] = offsets
    return senses

def read_counts():
    counts = collections.defaultdict(int)  # (lemma, pos, sense_number) -> tags
    total = collections.defaultdict(int)   # lemma -> tags, all POS
    with open(f"{WN}/cntlist.rev", encoding="latin-1") as f:
        for line in f:
            key, sense, tags = line.split()
            lemma, rest = key.split("%", 1)
            pos = SS_TYPE[rest[0]]
            counts[(lemma, pos, int(sense))] += int(tags)
            total[lemma] += int(tags)
    return counts, total

def read_synsets():
    members = {}  # (pos, offset) -> [lemmas]
    for pos, name in POS_FILES.items():
        with open(f"{WN}/data.{name}", encoding="latin-1") as f:
            for line in f:
                if line.startswith(" "):
                    continue
                parts = line.split()
                off, w_cnt = parts[0], int(parts[3], 16)
                words = [re.sub(r"\(.*\)$", "", parts[4 + 2 * i]).lower() for i in range(w_cnt)]
                members[(pos, off)] = words
    return members

def read_exceptions():
    exc = set()
    for name in ("noun", "verb", "adj"):
        with open(f"{WN}/{name}.exc", encoding="latin-1") as f:
            for line in f:
                parts = line.split()
                exc.update(parts[1:])  # base forms with irregular inflections
    return exc

VOWEL = set("aeiou")

def verb_forms(w):
    """Regular -s, -ed, -ing, or None when the spelling rule is uncertain (doubling)."""
    if len(w) >= 3 and w[-1] not in VOWEL | set("wxy") and w[-2] in VOWEL and w[-3] not in VOWEL:
        return None  # stop -> stopped / visit -> visited: cannot tell without stress
    if w.endswith(("s", "x", "z", "ch", "sh")):
        s = w + "es"
    elif w.endswith("y") and w[-2] not in VOWEL:
        s = w[:-1] + "ies"
    else:
        s = w + "s"
    if w.endswith("e"):
        ed, ing = w + "d", (w[:-1] + "ing") if not w.endswith(("ee", "ye", "oe")) else w + "ing"
    elif w.endswith("y") and w[-2] not in VOWEL:
        ed, ing = w[:-1] + "ied", w + "ing"
    else:
        ed, ing = w + "ed", w + "ing"
    return {"s": s, "ed": ed, "ing": ing}

def noun_plural(w):
    if w.endswith("s"):
        return None  # already plural, or a mass noun ("surroundings", "series")
    if w.endswith(("x", "z", "ch", "sh")):
        return w + "es"
    if w.endswith("y") and w[-2] not in VOWEL:
        return w[:-1] + "ies"
    if w.endswith(("f", "fe", "o")):
        return None
    return w + "s"

def read_reference():
    import json
    freq = collections.Counter()
    for path in REF_FILES:
        with open(path, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                for k in ("text", "output"):
                    v = rec.get(k)
                    if isinstance(v, str):
                        freq.update(w.lower() for w in re.findall(r"[A-Za-z]+", v))
    return freq

LINKS = {"&", "^", "$", "@", "~", "@i", "~i"}  # similar, also see, verb group, hypernym, hyponym
DERIVED = {"+", "\\", "=", "<"}  # derivationally related, pertainym, attribute, participle
CURATED_FILE = __file__.rsplit("/", 1)[0] + "/curated_groups.tsv"

def read_links():
    """(pos, offset) -> linked offsets (LINKS); ("r>a", offset) -> an adverb's adjectives;
    ("d", pos, offset) -> (pos, offset) pairs reached by a DERIVED pointer; ("g", pos, offset) ->
    the words of the synset's definition (its gloss up to the first example)."""
    nb = collections.defaultdict(set)
    for pos, name in POS_FILES.items():
        with open(f"{WN}/data.{name}", encoding="latin-1") as f:
            for line in f:
                if line.startswith(" "):
                    continue
                p = line.split()
                off, w = p[0], int(p[3], 16)
                i = 4 + 2 * w
                n = int(p[i])
                i += 1
                for _ in range(n):
                    sym, o, tp = p[i], p[i + 1], p[i + 2]
                    i += 4
                    tp = "a" if tp == "s" else tp
                    if sym in LINKS:
                        nb[(pos, off)].add(o)
                        nb[(tp, o)].add(off)
                    elif sym in DERIVED:
                        nb[("d", pos, off)].add((tp, o))
                        nb[("d", tp, o)].add((pos, off))
                        if sym == "\\" and pos == "r":  # an adverb's adjective ("typically" -> "typical")
                            nb[("r>a", off)].add(o)
                gloss = line.split("|", 1)[1] if "|" in line else ""
                definition = gloss.split('"', 1)[0]
                nb[("g", pos, off)] = set(re.findall(r"[a-z]+", definition.lower()))
    return nb

def read_curated(senses, nb):
    """The curated rules (passed through) and groups, members WordNet does not link
    dropped (reported on stderr). Two members are linked when, among their first three
    senses, they share a synset, or are at most two steps apart over the LINKS and
    DERIVED pointers (an adverb also through its adjective), or the definition of one
    names the other ("additionally: in addition, by way of addition; furthermore")."""
    def near(pos, w):
        start = {(pos, o) for o in senses.get((w, pos), [])[:3]}
        seen, frontier = set(start), set(start)
        for _ in range(2):
            step = set()
            for p, o in frontier:
                step.update((p, x) for x in nb[(p, o)])
                if p == "r":
                    step.update(("a", x) for x in nb[("r>a", o)])
                step.update(nb[("d", p, o)])
            frontier = step - seen
            seen |= step
        return start, seen
    def linked(pos, a, b):
        sa, na = near(pos, a)
        sb, nb_ = near(pos, b)
        if na & nb_:
            return True
        return any(b in nb[("g", p, o)] for p, o in sa) or any(a in nb[("g", p, o)] for p, o in sb)
    rules, out, keep = [], [], None
    with open(CURATED_FILE, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            pos, words = line.split("\t")
            if pos.startswith(("@", "%phrase")) or pos in ("%contract", "%itemstop", "%serialcomma", "%listopener"):
                rules.append((pos, words))
                continue
            words = words.split()
            base = pos.split("@")[0].rstrip("!")
            if base == "p":
                # Function words (prepositions, conjunctions), which WordNet does not
                # list: paired by hand, variants of one word ("toward" / "towards",
                # "based on" / "based upon"), kept as written.
                out.append((pos, sorted(words)))
                keep = None
                continue
            if "=" in pos:
                # Paired by hand (people / individuals: WordNet has "people" as its own noun,
                # not as the plural of "person"): every member must still be a WordNet
                # lemma of that part of speech.
                pos = pos.replace("=", "")
                base = base.replace("=", "")
                lemma_pos = base.split(".")[0]
                lemma = {"n.pl": lambda w: w[:-1] if w.endswith("s") else w}.get(base, lambda w: w)
                missing = [w for w in words if (lemma(w), lemma_pos) not in senses and (w, lemma_pos) not in senses]
                if missing:
                    print(f"curated: not in WordNet, left out: {' '.join(missing)} ({line.strip()})", file=sys.stderr)
                kept = [w for w in words if w not in missing]
                if len(kept) >= 2:
                    out.append((pos, sorted(kept)))
                keep = None
                continue
            if base in POS_FILES:
                keep = [i for i, w in enumerate(words)
                        if any(linked(base, w, o) for o in words if o != w)]
                dropped = [w for i, w in enumerate(words) if i not in keep]
                if dropped:
                    print(f"curated: not linked in WordNet, left out: {' '.join(dropped)} ({line.strip()})",
                          file=sys.stderr)
            kept = [words[i] for i in (keep or []) if i < len(words)]
            if len(kept) >= 2:
                out.append((pos, sorted(kept)))
    return rules, out

def main():
    ref = read_reference()
    senses = read_index()
    counts, total = read_counts()
    synsets = read_synsets()
    exc = read_exceptions()

    pos_total = collections.defaultdict(int)  # (lemma, pos) -> tags in that POS
    for (lemma, pos, _), n in counts.items():
        pos_total[(lemma, pos)] += n
    cued = set(CUED)
    eligible = collections.defaultdict(list)  # (pos, offset) -> [(lemma, count)]
    for (lemma, pos), offs in senses.items():
        if not WORD.match(lemma) or lemma in AVOID:
            continue
        c = counts.get((lemma, pos, 1), 0)
        if c < MIN_COUNT or total[lemma] == 0:
            continue
        if c / total[lemma] < DOMINANCE:
            # Dominant within its part of speech only: usable after a cue.
            if c < 2 or c / max(1, pos_total[(lemma, pos)]) < 0.6:
                continue
            cued.add(lemma)
        elif 1 - pos_total[(lemma, pos)] / total[lemma] > CROSS_POS:
            cued.add(lemma)
        eligible[(pos, offs[0])].append((lemma, c))

    groups = []
    by_pos = collections.defaultdict(set)  # (lemma, pos) -> synset offsets
    for (lemma, pos), offs in senses.items():
        by_pos[(lemma, pos)] = set(offs)
    for pos, a, b in CURATED:
        shared = by_pos.get((a, pos), set()) & by_pos.get((b, pos), set())
        if shared and a not in AVOID and b not in AVOID:
            groups.append((pos, sorted([a, b])))
    # British and American spellings (-ise/-ize, -yse/-yze, -our/-or, -re/-er)
    # that WordNet lists in one synset: exact synonyms, whatever their counts.
    spelt = set()
    for (lemma, pos), offs in senses.items():
        if not WORD.match(lemma):
            continue
        for us, uk in (("ize", "ise"), ("yze", "yse"), ("or", "our"), ("meter", "metre"),
                       ("liter", "litre"), ("center", "centre"), ("theater", "theatre"),
                       ("fiber", "fibre"), ("caliber", "calibre"), ("luster", "lustre"),
                       ("somber", "sombre"), ("meager", "meagre"), ("specter", "spectre")):
            if lemma.endswith(us):
                other = lemma[: -len(us)] + uk
                if other in AVOID or lemma in AVOID:
                    continue
                if set(offs) & by_pos.get((other, pos), set()):
                    groups.append((pos, sorted([lemma, other])))
                    CURATED.append((pos, lemma, other))
                    if us in ("ize", "yze", "or"):
                        # One word spelt two ways in every sense and part of speech
                        # ("colors" / "colours", the noun or the verb): no cue needed (v8).
                        spelt.add(tuple(sorted([lemma, other])))
    curated_words = {w for _, a, b in CURATED for w in (a, b)}
    for (pos, off), words in eligible.items():
        words = [(w, c) for w, c in words if w not in curated_words]
        if len(words) < 2:
            continue
        words.sort(key=lambda x: (-x[1], x[0]))
        top = words[0][1]
        kept = [w for w, c in words if top / c <= MAX_RATIO][:MAX_GROUP]
        if len(kept) >= 2:
            groups.append((pos, sorted(kept)))

    # A word in one group only (first by the group's order is kept).
    ncur = sum(1 for g in groups if set(g[1]) <= curated_words)
    groups = groups[:ncur] + sorted(groups[ncur:], key=lambda g: (g[0], g[1]))
    seen, base = set(), []
    for pos, words in groups:
        if any(w in seen for w in words):
            continue
        seen.update(words)
        base.append((pos, words))

    out, vetted = [], set()  # vetted: groups exempt from the reference-frequency filter
    rules, curated = read_curated(senses, read_links())
    for p, ws in curated:
        out.append((p, ws))
        vetted.add(tuple(ws))
    for pos, words in base:
        start = len(out)
        mark = "!" if any(w in cued for w in words) and tuple(words) not in spelt else ""
        out.append((pos + mark, words))
        if pos == "v" and not any(w in exc for w in words):
            forms = [verb_forms(w) for w in words]
            if all(forms):
                for k in ("s", "ed", "ing"):
                    forms_k = [f[k] for f in forms]
                    m = "!" if any(w in cued for w in forms_k) and tuple(words) not in spelt else ""
                    out.append((f"v.{k}{m}", forms_k))
        if pos == "n" and not any(w in exc for w in words):
            pl = [noun_plural(w) for w in words]
            if all(pl):
                out.append(("n.pl" + mark, pl))
        if set(words) <= curated_words:
            vetted.update(tuple(ws) for _, ws in out[start:])

    # Every surface form in one group only; drop groups that would share one, except
    # where both have a rule (the scanner takes a word's first group whose rule holds:
    # "also" opening a sentence, or after "can").
    final, used = [], {}  # first group wins: curated, then spellings, then the rest
    for p, ws in out:
        ruled = "@" in p
        if all(w not in used or (ruled and used[w]) for w in ws):
            for w in ws:
                used.setdefault(w, ruled)
            final.append((p, ws))
    if ref:
        def common(ws):
            f = [ref[w] for w in ws]
            return min(f) >= MIN_REF and max(f) / min(f) <= MAX_REF_RATIO
        final = [(p, ws) for p, ws in final if tuple(ws) in vetted or common(ws)]

    print("# distillguard watermark synonym table, generated by enforcement/tools/make_synonyms.py")
    print("# from WordNet 3.0. WordNet 3.0 Copyright 2006 by Princeton University. All rights reserved.")
    print("# THIS SOFTWARE AND DATABASE IS PROVIDED \"AS IS\" AND PRINCETON UNIVERSITY MAKES NO")
    print("# REPRESENTATIONS OR WARRANTIES, EXPRESS OR IMPLIED. (Full licence: WordNet 3.0 licence,")
    print("# /usr/share/doc/wordnet-base/copyright.)")
    print("# The first groups are hand-curated (enforcement/tools/curated_groups.tsv), each member kept")
    print("# only where WordNet links it to another member; the rest are derived from WordNet's synsets.")
    print("# format: POS[!]<TAB>word,word[,word...]   one group a line; a word appears once")
    print("# (or in two groups that both have a rule: the first whose rule holds is used);")
    print("# '!' = used only after a cue word fixing the part of speech; '@name' = only where the")
    print("# rule @name holds (@name<TAB>tokens: a previous word, -word: not after it, ^: or first of a")
    print("# sentence, +comma: followed by a comma, >-word: not before it, >+word: before one of these,")
    print("# >!word: the cue '!' is not needed before this word (v8); see")
    print("# enforcement/watermark_synonyms.h)")
    print("# %contract<TAB>words,contraction: a unit written either way (do not / don't), a position")
    print("# where a word other than not / or / and / it follows it (see synonym_table::unit)")
    print("# POS p: function words WordNet does not list, paired by hand (toward / towards)")
    print("# %itemstop<TAB>.: a list item's closing period is written or not as the key prefers after")
    print("# the item's last word (see synonym_table::has_item_stop)")
    print("# %serialcomma<TAB>,: the comma before the \"and\" or \"or\" that ends a list is written or not")
    print("# as the key prefers after the word before it (see synonym_table::has_serial_comma)")
    print("# %phrase@rule<TAB>words,word: a unit written as its two words or as one other word, lower case,")
    print("# where the rule holds (such as / like; see synonym_table::unit); from v8 also three words, or two")
    print("# whose other form has two or three (in order to / so as to), or two joined by a hyphen")
    print("# (long term / long-term)")
    print("# %listopener<TAB>words,...: a list's first item may follow one of these (v8: such as apples,")
    print("# pears, and plums; see synonym_table::has_list_openers)")
    for name, tokens in rules:
        print(f"{name}\t{tokens}")
    for p, ws in final:
        print(f"{p}\t{','.join(ws)}")
    print(f"# {len(final)} groups, {sum(len(ws) for _, ws in final)} words", file=sys.stderr)

if __name__ == "__main__":
    main()
