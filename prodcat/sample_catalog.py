"""A small, realistic sample catalog in the challenge format, drawn from scratch.

Used by the demo and the tests so that neither needs the Rakuten data. Titles mix French,
German and English, descriptions carry HTML entities and tags or are empty, and every
category has its own look in the photos (palette, shapes), so both the text and the photo
models have something real to learn. Deterministic for a given seed.
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from PIL import Image, ImageDraw

from prodcat_contracts.taxonomy import builtin_taxonomy

# code -> (nouns, adjectives/qualifiers, brands or series); mixed languages on purpose.
VOCAB: dict[int, tuple[list[str], list[str], list[str]]] = {
    10: (
        ["Roman", "Livre", "Essai", "Buch"],
        ["ancien", "broché", "édition 1972", "gebraucht"],
        ["Gallimard", "Folio", "Le Livre de Poche"],
    ),
    40: (
        ["Jeu PS4", "Xbox One Spiel", "Jeu Nintendo DS", "PC CD-ROM"],
        ["complet", "en boîte", "version française", "PAL"],
        ["Ubisoft", "Electronic Arts", "Sega"],
    ),
    50: (
        ["Manette", "Câble de charge", "Casque gaming", "Controller"],
        ["sans fil", "compatible PS4", "USB", "für Switch"],
        ["Speedlink", "Turtle Beach", "Hori"],
    ),
    60: (
        ["Console", "Konsole", "Console portable"],
        ["reconditionnée", "500 Go", "édition limitée", "avec 2 manettes"],
        ["PlayStation 4", "Nintendo Switch", "Xbox 360"],
    ),
    1140: (
        ["Figurine", "Statuette", "Funko Pop", "Action figure"],
        ["collector", "en vinyle", "15 cm", "limited edition"],
        ["Marvel", "Dragon Ball", "Star Wars"],
    ),
    1160: (
        ["Carte", "Booster", "Lot de cartes", "Trading card"],
        ["holo", "rare", "VF", "near mint"],
        ["Pokémon", "Yu-Gi-Oh!", "Magic The Gathering"],
    ),
    1180: (
        ["Figurine à peindre", "Miniature", "Livre de règles", "Dés"],
        ["28 mm", "métal", "pour jeu de rôle", "Warhammer 40k"],
        ["Games Workshop", "Reaper", "Donjons et Dragons"],
    ),
    1280: (
        ["Peluche", "Poupée", "Jouet d'éveil", "Voiture miniature"],
        ["pour enfant", "dès 3 ans", "douce", "musicale"],
        ["Disney", "Fisher-Price", "Vtech"],
    ),
    1281: (
        ["Jeu de société", "Puzzle", "Jeu de cartes", "Gesellschaftsspiel"],
        ["1000 pièces", "familial", "2-6 joueurs", "stratégie"],
        ["Asmodee", "Ravensburger", "Hasbro"],
    ),
    1300: (
        ["Drone", "Voiture RC", "Hélicoptère radiocommandé", "Maquette"],
        ["2.4 GHz", "avec caméra HD", "1/10", "brushless"],
        ["DJI", "Traxxas", "Revell"],
    ),
    1301: (
        ["Chaussettes bébé", "Body", "Jeu de fléchettes", "Baby-foot"],
        ["coton bio", "lot de 3", "électronique", "0-3 mois"],
        ["Petit Bateau", "Harrows", "Winmau"],
    ),
    1302: (
        ["Trampoline", "Toboggan", "Balançoire", "Piscine à balles"],
        ["extérieur", "avec filet", "pour jardin", "résistant"],
        ["Smoby", "Little Tikes", "Intex Kids"],
    ),
    1320: (
        ["Poussette", "Siège auto", "Chauffe-biberon", "Sac à langer"],
        ["groupe 0+", "pliable", "isofix", "naissance"],
        ["Bébé Confort", "Chicco", "Babymoov"],
    ),
    1560: (
        ["Commode", "Chaise", "Table basse", "Étagère"],
        ["en chêne massif", "3 tiroirs", "scandinave", "moderne"],
        ["Alinéa", "Conforama", "Vente-unique"],
    ),
    1920: (
        ["Housse de couette", "Coussin", "Drap housse", "Plaid"],
        ["240x220 cm", "100% coton", "polaire", "imprimé"],
        ["Linvosges", "Blanc des Vosges", "Home Maison"],
    ),
    1940: (
        ["Café en grains", "Thé vert", "Chocolat noir", "Épices"],
        ["bio", "1 kg", "équitable", "pur arabica"],
        ["Lavazza", "Kusmi Tea", "Lindt"],
    ),
    2060: (
        ["Cadre photo", "Stickers muraux", "Guirlande lumineuse", "Vase"],
        ["décoration murale", "LED", "en verre", "style bohème"],
        ["Atmosphera", "Maisons du Monde", "Zara Home"],
    ),
    2220: (
        ["Croquettes", "Arbre à chat", "Laisse", "Aquarium"],
        ["pour chien", "pour chat", "réglable", "60 litres"],
        ["Royal Canin", "Trixie", "Tetra"],
    ),
    2280: (
        ["Revue", "Magazine", "Journal", "Zeitschrift"],
        ["N° 133", "numéro spécial", "hebdomadaire", "du 28/09/2001"],
        ["Paris Match", "Le Journal des Arts", "Géo"],
    ),
    2403: (
        ["Lot de livres", "Lot de BD", "Lot de magazines", "Collection complète"],
        ["tomes 1 à 12", "10 volumes", "série", "bon état"],
        ["Astérix", "Harlequin", "Tintin"],
    ),
    2462: (
        ["Lot jeux vidéo", "Console + jeux", "Pack rétro", "Lot de cartouches"],
        ["occasion", "testé", "Game Boy", "Nintendo 64"],
        ["Nintendo", "Sony", "Sega"],
    ),
    2522: (
        ["Cahier", "Stylo plume", "Agenda", "Classeur"],
        ["A4", "96 pages", "grands carreaux", "Notizbuch"],
        ["Clairefontaine", "Oxford", "Conquérant"],
    ),
    2582: (
        ["Salon de jardin", "Parasol", "Transat", "Table de jardin"],
        ["en résine tressée", "aluminium", "6 places", "déporté"],
        ["Hespéride", "Ozalide", "Keter"],
    ),
    2583: (
        ["Piscine hors sol", "Filtre à sable", "Bâche de piscine", "Robot de piscine"],
        ["tubulaire", "4,57 x 1,22 m", "chlore", "pompe"],
        ["Intex", "Bestway", "Zodiac"],
    ),
    2585: (
        ["Tondeuse", "Taille-haie", "Perceuse", "Tuyau d'arrosage"],
        ["électrique", "sans fil 18V", "20 m", "thermique"],
        ["Bosch", "Black & Decker", "Gardena"],
    ),
    2705: (
        ["Livre", "Roman", "Guide", "Bande dessinée"],
        ["neuf", "grand format", "nouvelle édition", "relié"],
        ["Hachette", "Dunod", "Glénat"],
    ),
    2905: (
        ["Jeu PC", "Code de téléchargement", "Extension", "DLC"],
        ["Steam", "version digitale", "clé d'activation", "Download"],
        ["Steam", "Uplay", "Origin"],
    ),
}

DESCRIPTION_TEMPLATES = [
    "{noun} {adj} de la marque {brand}.<br> Idéal pour offrir.<br><b>Caractéristiques :</b> {adj2}",
    "Produit neuf&nbsp;: {noun} {brand} &eacute;tat impeccable, {adj2}.",
    "<p>{brand} {noun} - {adj}. Livraison rapide.</p>",
    "Hochwertige {noun} von {brand}, {adj2}. Schneller Versand.",
    "{noun} by {brand}, {adj}. Great condition &amp; fast shipping.",
]


def _palette(code: int) -> tuple[tuple[int, int, int], tuple[int, int, int], str]:
    """A category's look: main colour, accent colour and shape; fixed per code."""
    rng = random.Random(code)
    main = (rng.randrange(30, 230), rng.randrange(30, 230), rng.randrange(30, 230))
    accent = (255 - main[0], rng.randrange(0, 255), 255 - main[2])
    shape = ["rectangle", "ellipse", "stripes", "grid", "triangle", "rings"][code % 6]
    return main, accent, shape


def draw_photo(code: int, rng: random.Random, size: int = 500) -> Image.Image:
    """A product-like photo: white background, a coloured object of the category's shape."""
    main, accent, shape = _palette(code)
    jitter = lambda c: tuple(max(0, min(255, v + rng.randrange(-25, 26))) for v in c)  # noqa: E731
    img = Image.new("RGB", (size, size), (250, 250, 250))
    d = ImageDraw.Draw(img)
    m = rng.randrange(40, 110)
    box = (m, m + rng.randrange(-20, 20), size - m, size - m + rng.randrange(-20, 20))
    if shape == "rectangle":
        d.rectangle(box, fill=jitter(main), outline=jitter(accent), width=8)
    elif shape == "ellipse":
        d.ellipse(box, fill=jitter(main), outline=jitter(accent), width=10)
    elif shape == "stripes":
        for i, x in enumerate(range(box[0], box[2], 30)):
            d.rectangle((x, box[1], x + 15, box[3]), fill=jitter(main if i % 2 else accent))
    elif shape == "grid":
        for x in range(box[0], box[2], 60):
            for y in range(box[1], box[3], 60):
                d.rectangle((x, y, x + 45, y + 45), fill=jitter(main), outline=jitter(accent))
    elif shape == "triangle":
        d.polygon([(size // 2, box[1]), (box[0], box[3]), (box[2], box[3])], fill=jitter(main))
    else:
        for r in range(200, 20, -40):
            c = size // 2
            d.ellipse(
                (c - r, c - r, c + r, c + r), outline=jitter(accent if r % 80 else main), width=14
            )
    return img


def _title(code: int, rng: random.Random) -> str:
    nouns, adjs, brands = VOCAB[code]
    parts = [rng.choice(nouns), rng.choice(brands), rng.choice(adjs)]
    if rng.random() < 0.5:
        parts.append(f"- Réf {rng.randrange(1000, 99999)}")
    return " ".join(parts)


def _description(code: int, rng: random.Random) -> str:
    if rng.random() < 0.35:  # as in the real data, many listings have no description
        return ""
    nouns, adjs, brands = VOCAB[code]
    return rng.choice(DESCRIPTION_TEMPLATES).format(
        noun=rng.choice(nouns),
        adj=rng.choice(adjs),
        adj2=rng.choice(adjs),
        brand=rng.choice(brands),
    )


def write_sample_catalog(
    out_dir: Path,
    *,
    per_class: int = 12,
    photo_share: float = 0.8,
    seed: int = 0,
    split: str = "train",
) -> Path:
    """Write X_<split>.csv, Y_<split>.csv, categories.csv and photos; return `out_dir`.

    Writing over an earlier catalog replaces its split: the split's old photos are deleted
    first, or listings of the new catalog would find photos of the old one by id.
    """
    if per_class < 1:
        raise ValueError(f"per_class must be at least 1, not {per_class}")
    rng = random.Random(seed)
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise ValueError(f"{out_dir} is a file: give a directory for the catalog")
    photo_dir = out_dir / "images" / f"image_{split}"
    photo_dir.mkdir(parents=True, exist_ok=True)
    for old in photo_dir.glob("image_*_product_*.jpg"):
        old.unlink()
    taxonomy = builtin_taxonomy()
    rows: list[tuple[int, str, str, int, int, int]] = []
    for code in taxonomy.codes:
        for _ in range(per_class):
            rows.append(
                (
                    len(rows),
                    _title(code, rng),
                    _description(code, rng),
                    rng.randrange(10**8, 4 * 10**9),
                    rng.randrange(10**8, 2 * 10**9),
                    code,
                )
            )
    rng.shuffle(rows)
    with (
        (out_dir / f"X_{split}.csv").open("w", newline="", encoding="utf-8") as fx,
        (out_dir / f"Y_{split}.csv").open("w", newline="", encoding="utf-8") as fy,
    ):
        wx, wy = csv.writer(fx), csv.writer(fy)
        wx.writerow(["", "designation", "description", "productid", "imageid"])
        wy.writerow(["", "prdtypecode"])
        for idx, title, desc, product_id, image_id, code in rows:
            wx.writerow([idx, title, desc, product_id, image_id])
            wy.writerow([idx, code])
            if rng.random() < photo_share:
                draw_photo(code, rng).save(
                    photo_dir / f"image_{image_id}_product_{product_id}.jpg", quality=85
                )
    with (out_dir / "categories.csv").open("w", newline="", encoding="utf-8") as fc:
        wc = csv.writer(fc)
        wc.writerow(["prdtypecode", "name_fr", "name_en"])
        for c in taxonomy.categories:
            wc.writerow([c.code, c.name_fr, c.name_en])
    return out_dir
