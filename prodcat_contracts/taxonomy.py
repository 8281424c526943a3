"""The Rakuten France product-type taxonomy: 27 `prdtypecode`s and their names.

The challenge published codes but no names. These built-in names are ours; a data directory
that holds a `categories.csv` (`prdtypecode,name_fr,name_en,...`) overrides them, so the names
a model serves are the ones of the data it was trained on.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

# code -> (English name, French name)
BUILTIN_NAMES: dict[int, tuple[str, str]] = {
    10: ("Used books", "Livres d'occasion"),
    40: ("Video games, CDs and equipment", "Jeux vidéo, CD et équipement"),
    50: ("Gaming accessories", "Accessoires de jeu vidéo"),
    60: ("Game consoles", "Consoles de jeu"),
    1140: ("Figurines and pop-culture collectibles", "Figurines et objets pop culture"),
    1160: ("Trading cards", "Cartes à collectionner"),
    1180: ("Miniatures and role-playing games", "Figurines et jeux de rôle"),
    1280: ("Children's toys", "Jouets pour enfants"),
    1281: ("Board games", "Jeux de société"),
    1300: ("Remote-controlled models and drones", "Modélisme et drones"),
    1301: ("Baby clothing and bar games", "Vêtements bébé et jeux de bar"),
    1302: ("Outdoor games and sports toys", "Jeux d'extérieur"),
    1320: ("Childcare", "Puériculture"),
    1560: ("Furniture", "Mobilier"),
    1920: ("Household linen", "Linge de maison"),
    1940: ("Groceries", "Épicerie"),
    2060: ("Decoration", "Décoration"),
    2220: ("Pet supplies", "Animalerie"),
    2280: ("Magazines and newspapers", "Journaux et revues"),
    2403: ("Book, comic and magazine lots", "Lots de livres, BD et revues"),
    2462: ("Used video games and consoles", "Jeux vidéo et consoles d'occasion"),
    2522: ("Stationery", "Papeterie"),
    2582: ("Garden furniture", "Mobilier de jardin"),
    2583: ("Swimming pools and accessories", "Piscines et accessoires"),
    2585: ("Garden tools and DIY", "Outillage de jardin et bricolage"),
    2705: ("New books", "Livres neufs"),
    2905: ("Downloadable PC games", "Jeux PC en téléchargement"),
}


@dataclass(frozen=True)
class Category:
    code: int
    name_en: str
    name_fr: str


@dataclass(frozen=True)
class Taxonomy:
    """An ordered set of categories; a model's output index i is `categories[i]`."""

    categories: tuple[Category, ...]

    @property
    def codes(self) -> list[int]:
        return [c.code for c in self.categories]

    def index_of(self, code: int) -> int:
        return self._index()[code]

    def __contains__(self, code: object) -> bool:
        return code in self._index()

    def __len__(self) -> int:
        return len(self.categories)

    def _index(self) -> dict[int, int]:
        return {c.code: i for i, c in enumerate(self.categories)}

    def to_json(self) -> list[dict[str, object]]:
        return [
            {"code": c.code, "name_en": c.name_en, "name_fr": c.name_fr} for c in self.categories
        ]

    @classmethod
    def from_json(cls, items: list[dict[str, object]]) -> Taxonomy:
        return cls(
            tuple(
                Category(int(str(i["code"])), str(i["name_en"]), str(i["name_fr"])) for i in items
            )
        )


def builtin_taxonomy() -> Taxonomy:
    return Taxonomy(tuple(Category(c, en, fr) for c, (en, fr) in sorted(BUILTIN_NAMES.items())))


def load_taxonomy(data_dir: Path) -> Taxonomy:
    """The built-in taxonomy, with names from `data_dir/categories.csv` where it has them."""
    names = dict(BUILTIN_NAMES)
    path = Path(data_dir) / "categories.csv"
    if path.is_file():
        with path.open(newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                try:
                    code = int(row["prdtypecode"])
                except (KeyError, TypeError, ValueError):
                    continue
                if code not in names:
                    continue  # the taxonomy is fixed: the file names codes, it does not add them
                en, fr = names[code]
                names[code] = (
                    (row.get("name_en") or en).strip(),
                    (row.get("name_fr") or fr).strip(),
                )
    return Taxonomy(tuple(Category(c, en, fr) for c, (en, fr) in sorted(names.items())))
