"""What the 2021 CSVs name, in the API's terms: products, units and donors' channels.

Written from the products' labels (facts of 2021-22). Pack size is the
number of units the allocation rounds to: doses per vial for vaccines (Moderna: 14, because
every figure of decision 3400/QD-BYT is a multiple of 14), 1 where the label does not say.
"""

from __future__ import annotations

from dataclasses import dataclass

VACCINE, SUPPLY, EQUIPMENT, DRUG = "vaccine", "medical_supply", "equipment", "drug"
COLD, FROZEN, ULTRA_COLD, AMBIENT = "2-8C", "-25to-15C", "-90to-60C", "ambient"


@dataclass(frozen=True)
class ProductSpec:
    category: str
    unit: str  # the API's unit: doses, pieces, kits, tonnes
    storage: str
    pack_size: int


# Vaccine names in shipments_2021.csv, matched by their first word(s); the CSV's own name
# (e.g. "AstraZeneca (made in Japan)") stays the product name, since it tells the origin.
VACCINES: tuple[tuple[str, ProductSpec], ...] = (
    ("AstraZeneca", ProductSpec(VACCINE, "doses", COLD, 10)),  # 8 or 10 doses per vial
    ("Comirnaty", ProductSpec(VACCINE, "doses", ULTRA_COLD, 6)),  # 6 after dilution
    ("Spikevax", ProductSpec(VACCINE, "doses", FROZEN, 14)),  # the 14-dose presentation
    ("Vero Cell", ProductSpec(VACCINE, "doses", COLD, 1)),  # 1- and 2-dose vials existed
    ("Sputnik", ProductSpec(VACCINE, "doses", FROZEN, 1)),  # doses per vial not found
    ("Abdala", ProductSpec(VACCINE, "doses", COLD, 10)),  # 10 per vial; 2-8 °C expected
)

# Items of supplies_2021.csv, by their exact name.
SUPPLIES: dict[str, ProductSpec] = {
    "rapid antigen test kit": ProductSpec(SUPPLY, "kits", AMBIENT, 1),
    "medical mask": ProductSpec(SUPPLY, "pieces", AMBIENT, 1),
    "medical gown": ProductSpec(SUPPLY, "pieces", AMBIENT, 1),
    "auto-disable syringe 1 ml": ProductSpec(SUPPLY, "pieces", AMBIENT, 1),
    "syringe": ProductSpec(SUPPLY, "pieces", AMBIENT, 1),
    "oxygen concentrator": ProductSpec(EQUIPMENT, "pieces", AMBIENT, 1),
    "ventilator": ProductSpec(EQUIPMENT, "pieces", AMBIENT, 1),
    "ventilators and monitors": ProductSpec(EQUIPMENT, "tonnes", AMBIENT, 1),
    "ultra-low-temperature freezer": ProductSpec(EQUIPMENT, "pieces", AMBIENT, 1),
    "liquid medical oxygen": ProductSpec(DRUG, "tonnes", AMBIENT, 1),
}

# The CSV's unit column, in the API's units.
UNITS = {"kit": "kits", "unit": "pieces", "piece": "pieces", "tonne": "tonnes", "dose": "doses"}

# supplies_2021.csv names no channel: governments' gifts are bilateral donations, the
# overseas community's a private one. A supply that came with a vaccine takes its channel.
SUPPLY_CHANNELS = {
    "German states via WUS": "bilateral_donation",
    "Germany": "bilateral_donation",
    "Overseas Vietnamese in the USA": "private_donation",
    "India": "bilateral_donation",
    "Poland": "bilateral_donation",
    "Australia": "bilateral_donation",
    "USA (Department of Defense)": "bilateral_donation",
    "Government of China": "bilateral_donation",
    "China Ministry of National Defence": "bilateral_donation",
}
CHANNELS = {"covax", "bilateral_donation", "purchase", "private_donation"}


def vaccine(name: str) -> ProductSpec | None:
    return next((spec for prefix, spec in VACCINES if name.startswith(prefix)), None)


def supply(item: str) -> ProductSpec | None:
    return SUPPLIES.get(item)
