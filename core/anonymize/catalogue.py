"""Pattern rules for the identifiers Presidio's defaults miss (DESIGN §7).

Each rule's regex may name a group ``v``: only that part is the identifier, the rest is the
label that makes the match certain ("MRN: 00123456" replaces the number, keeps "MRN:").
Rules without a label score low and need a context word nearby to pass the threshold.
Everything here is written for the general case (clinical, billing and support text), not
for any one data generator.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.anonymize import validators as v

_SEP = r"\.?\s*(?:\#|:|-|=|is|was)?\s*(?:\#\s*)?"
_NUM_WORD = r"(?:[ .]?(?:number|num|nr|no|\#|id|code))?"
_VALUE = r"(?P<v>(?=[A-Z0-9/-]*\d)[A-Z0-9][A-Z0-9/-]{2,22}[A-Z0-9])"
US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|"
    "NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR|GU|VI|AA|AE|AP"
)
_AU_STATES = "NSW|VIC|QLD|TAS|ACT|NT|WA|SA"
_STREET_SUFFIX = (
    r"(?i:street|st|road|rd|avenue|ave|av|boulevard|blvd|lane|ln|drive|dr|court|ct|way|"
    r"place|pl|terrace|ter|crescent|cres|close|square|sq|parkway|pkwy|highway|hwy|circle|"
    r"cir|trail|trl|row|walk|gardens|gdns|grove|mews|rise|heights|hts|loop|alley|plaza|"
    r"path|pike|ridge|crossing|expressway|expy|freeway|fwy|route|rte|wharf|esplanade|"
    r"parade|quay|causeway|junction|park|hill|view|vale|green|cove|bend|landing|commons|"
    r"manor|village|estates?|harbou?r|creek|springs?|valley|glen|hollow|mill|turnpike)"
)
_EU_SUFFIX = (
    r"(?i:straße|strasse|str\.|gasse|weg|allee|platz|ring|damm|ufer|straat|laan|plein|"
    r"gracht|dijk|kade|steeg|singel|vej|gade|gatan|vägen|gränd|katu|tie|polku|kuja|vegen|"
    r"veien|gata|utca|körút|tér|ulica|cesta)"
)
_EU_PREFIX = (
    r"(?:Via|Viale|Piazza|Piazzale|Corso|Largo|Vicolo|Rue|Avenue|Av\.|Avda\.?|Boulevard|"
    r"Chemin|Allée|Impasse|Quai|Calle|Avenida|Paseo|Plaza|Camino|Carrera|Carretera|Ronda|"
    r"Rua|R\.?(?=\s+[A-ZÀ-Þ])|Travessa|Praça|Alameda|Estrada|Rodovia|ul\.|ulica|al\.|aleja|"
    r"os\.|Str\.|Strada|Bulevardul|Calea|Odos|Odós|Leoforos|Ulitsa|Prospekt)"
)
_LEAD = r"(?<![\w-])(?:\d{1,6}[ \t]+)?"
_HOUSE = r"\d{1,6}[A-Za-z]?(?:[-/]\d{1,4})?"
_WORD = r"(?:\d{1,3}(?:st|nd|rd|th)|[A-ZÀ-Þ][\w'\u2019.-]*)"
_UNIT = (
    r"(?:,?[ \t]*(?i:apt|apartment|suite|ste|unit|flat|room|rm|floor|fl|bldg|building)"
    r"\.?[ \t]*\#?[ \t]*[A-Z0-9-]{1,6}\b)?"
)
_NAME = r"(?P<v>[A-ZÀ-Þ][\w'\u2019-]+(?:[ \t]+(?:[A-Z]\.?|[A-ZÀ-Þ][\w'\u2019-]+)){0,2})"
# Lines and comma-separated parts after a street: town, region, postal code, country.
ADDRESS_TAIL = (
    r"(?:(?:[ \t]*(?:,|\n)[ \t\n]*|[ \t]+)(?:(?:[A-ZÀ-Þ][\w'\u2019.-]*)(?![\w'\u2019.-]*:)"
    r"(?:[ \t]+[A-ZÀ-Þ][\w'\u2019.-]*(?![\w'\u2019.-]*:)){0,3}|\d{3,6}(?:[ -]\d{2,4})?|"
    r"[A-Z]\d[A-Z][ ]?\d[A-Z]\d|[A-Z]{1,2}\d[A-Z\d]?[ ]\d[A-Z]{2})(?![\w-])){1,5}"
)
_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sept?(?:ember)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DAY = r"(?:[0-2]?\d|3[01])(?:st|nd|rd|th)?"
_LOWER_STOP = r"(?!(?:the|a|an|in|on|at|and|or|to|of|for|i|my|we|you|it|is|was)\b)"


@dataclass(frozen=True, slots=True)
class Rule:
    """One regex for one entity type; ``scorer`` validates and scores a match."""

    entity: str
    name: str
    regex: str
    score: float
    scorer: v.Scorer = v.keep
    case_sensitive: bool = False


def _labelled(entity: str, name: str, label: str, min_digits: int, score: float = 0.85) -> Rule:
    return Rule(
        entity, name, rf"\b{label}{_NUM_WORD}{_SEP}{_VALUE}\b", score, v.at_least_digits(min_digits)
    )


RULES: tuple[Rule, ...] = (
    _labelled(
        "MEDICAL_RECORD_NUMBER",
        "mrn_labelled",
        r"(?:MRN|MR\#|med(?:ical)?[ .]?rec(?:ord)?s?|chart|patient[ .]?(?:id|num)|"
        r"hosp(?:ital)?[ .]?(?:id|num)|unit[ .]num|encounter|accession|admission)",
        3,
        0.9,
    ),
    Rule(
        "MEDICAL_RECORD_NUMBER", "mrn_shape", r"\b[A-Z]{1,3}-?\d{6,10}\b", 0.3, case_sensitive=True
    ),
    _labelled(
        "HEALTH_PLAN_ID",
        "plan_labelled",
        r"(?:member|subscriber|beneficiary|policy(?:holder)?|insurance|insured|health[ .]plan|"
        r"plan|group|medicaid|medicare|MBI|HICN|coverage|payer)(?:[ .](?:id|card))?",
        3,
    ),
    _labelled(
        "ACCOUNT_NUMBER",
        "account_labelled",
        r"(?:(?:bank|checking|savings|current|loan|billing|customer|client|mortgage)[ .])?"
        r"(?:account|acct|a/c)(?:[ .]?(?:ending|ends)(?:[ .](?:in|with))?)?",
        4,
    ),
    _labelled(
        "LICENSE_NUMBER",
        "licence_labelled",
        r"(?:licen[cs]e|lic|certificate|cert|permit|DEA|NPI|badge)",
        3,
    ),
    Rule(
        "VEHICLE_ID",
        "vin",
        r"\b(?P<v>[A-HJ-NPR-Z0-9]{17})\b",
        0.3,
        v.vin_score,
        case_sensitive=True,
    ),
    Rule(
        "VEHICLE_ID",
        "plate_labelled",
        r"\b(?:licen[cs]e|number|registration)[ .]plate(?:[ .](?:number|no))?"
        + _SEP
        + r"(?P<v>[A-Z0-9]{1,4}[ -]?[A-Z0-9]{1,4}(?:[ -]?[A-Z0-9]{1,4})?)\b",
        0.8,
        v.at_least_digits(1),
    ),
    _labelled(
        "DEVICE_ID",
        "device_labelled",
        r"(?:serial|s/n|SN|device(?:[ .](?:id|serial))?|IMEI|MEID|UDI|implant|pacemaker|"
        r"pump|asset[ .]tag|model)",
        2,
    ),
    _labelled(
        "OTHER_ID",
        "id_labelled",
        r"(?:id|identifier|identification|ref(?:erence)?|claim|ticket|case|order|invoice|"
        r"customer|client|employee|staff|student|passport|national[ .]id|tax[ .]id|"
        r"voter|member)",
        3,
        0.7,
    ),
    Rule(
        "ZIP_CODE",
        "zip_labelled",
        r"\b(?:zip(?:[ .]?code)?|postal[ .]?code|post[ .]?code|PLZ|CEP)"
        + _SEP
        + r"(?P<v>\d{5}(?:-\d{4})?|\d{3}[ -]\d{2}|\d{2}-\d{3}|\d{4,6}|"
        r"[A-Z]\d[A-Z][ -]?\d[A-Z]\d|[A-Z]{1,2}\d[A-Z\d]?[ ]?\d[A-Z]{2})\b",
        0.85,
    ),
    Rule(
        "ZIP_CODE",
        "zip_after_state",
        rf"\b(?:{US_STATES})\.?,?[ \t]+(?P<v>\d{{5}}(?:-\d{{4}})?)\b",
        0.75,
        case_sensitive=True,
    ),
    Rule(
        "ZIP_CODE",
        "postcode_after_au_state",
        rf"\b(?:{_AU_STATES})[ \t]+(?P<v>\d{{4}})\b",
        0.6,
        case_sensitive=True,
    ),
    Rule("ZIP_CODE", "zip_plus4", r"\b\d{5}-\d{4}\b", 0.5),
    Rule("ZIP_CODE", "zip_bare", r"(?<![\w.,-])\d{5}(?![\w.,-])", 0.2),
    Rule(
        "ZIP_CODE",
        "ca_postal",
        r"\b[ABCEGHJ-NPRSTVXY]\d[A-Z] ?\d[A-Z]\d\b",
        0.55,
        case_sensitive=True,
    ),
    Rule(
        "ZIP_CODE",
        "uk_postcode",
        r"\b(?:[A-Z]{1,2}\d[A-Z\d]?|GIR) \d[ABD-HJLNP-UW-Z]{2}\b",
        0.5,
        case_sensitive=True,
    ),
    Rule(
        "AGE",
        "age_years_old",
        r"\b(?P<v>\d{1,3})[ -]?(?:years?|yrs?|yr|y)\.?[ -]?(?:old|of[ ]age)\b",
        0.7,
        v.age_score,
    ),
    Rule("AGE", "age_yo", r"\b(?P<v>\d{1,3})[ -]?(?:y/o|yo|y\.o\.)(?=\W|$)", 0.7, v.age_score),
    Rule(
        "AGE",
        "age_aged",
        r"\b(?:aged?|age[ ]of|turned|turning|turns)[ :]+(?P<v>\d{1,3})\b",
        0.6,
        v.age_score,
    ),
    Rule(
        "AGE",
        "age_i_am",
        r"\b(?:i'm|i[ ]am|he's|she's|he[ ]is|she[ ]is|who[ ]is|was)[ ](?P<v>\d{1,3})"
        r"(?=[.,!?;]|\s*$)",
        0.45,
        v.age_score,
    ),
    Rule(
        "PHONE_NUMBER",
        "phone_any",
        # Inside the number a bracket group must be followed by more digits ("+1 (610) 362",
        # "+44 (0)20"), so a trailing "(99)" is left to the extension, which takes it whole.
        r"(?<![\w+/.-])(?<!\d,)(?:\+|00)?\(?\d(?:[\d ).-]|\(\d{1,4}\)(?=[ .-]?\d)){4,22}\d"
        rf"{v.PHONE_EXTENSION}?(?!\w|[.-]\d)",
        0.3,
        v.phone_score,
    ),
    Rule("CREDIT_CARD", "card_any", r"(?<![\d-])(?:\d[ -]?){11,18}\d(?![\d-])", 0.5, v.card_score),
    Rule(
        "SWIFT_CODE",
        "bic",
        r"\b[A-Z]{4}[A-Z]{2}[A-Z0-9]{2}(?:[A-Z0-9]{3})?\b",
        0.3,
        v.bic_score,
        case_sensitive=True,
    ),
    Rule(
        "DATE_TIME",
        "day_month",
        rf"\b{_DAY}[ ](?:of[ ])?{_MONTH}(?:,?[ ]\d{{4}})?\b",
        0.6,
        case_sensitive=True,
    ),
    Rule(
        "DATE_TIME",
        "month_day",
        rf"\b{_MONTH}[ ]{_DAY}(?:,?[ ]\d{{4}})?\b",
        0.6,
        case_sensitive=True,
    ),
    Rule("DATE_TIME", "month_year", rf"\b{_MONTH}[ ]\d{{4}}\b", 0.6, case_sensitive=True),
    Rule(
        "PERSON",
        "name_labelled",
        r"(?i:\bmy[ ]name[ ]is|\bmy[ ]name's|\bname:|\bcalls?[ ]me|\bcalled[ ]me|\bnamed|"
        r"\bdear|\bhi|\bhello|\bhey|\bthanks|\bthank[ ]you|\bsays|\battn:?|\bpatient:|"
        r"\bpt:|\bsigned:?|\b(?:mr|mrs|ms|miss|dr)\.?)[ \t,]+" + _NAME,
        0.6,
        case_sensitive=True,
    ),
    Rule(
        "PERSON",
        "name_is_lower",
        r"\b(?:my|his|her|their|your)[ ]name[ ](?:is|was)[ \t]+(?P<v>[^\W\d_][\w'\u2019-]+)",
        0.5,
    ),
    Rule(
        "STREET_ADDRESS",
        "us_street",
        rf"{_LEAD}{_HOUSE}[ \t]+(?:(?:[NSEW]|N[EW]|S[EW]|North|South|East|West)\.?[ \t]+)?"
        rf"(?:{_WORD}[ \t]+){{1,4}}{_STREET_SUFFIX}\b\.?{_UNIT}",
        0.75,
        case_sensitive=True,
    ),
    Rule(
        "STREET_ADDRESS",
        "us_street_lower",
        rf"{_LEAD}{_HOUSE}[ \t]+(?:{_LOWER_STOP}[a-z][a-z'-]+[ \t]+){{1,3}}"
        r"(?:street|road|avenue|boulevard|lane|drive|court|crescent|terrace|parkway|highway)"
        rf"\b{_UNIT}",
        0.6,
        case_sensitive=True,
    ),
    Rule(
        "STREET_ADDRESS",
        "eu_street",
        rf"{_LEAD}\b[A-ZÀ-Þ][\w'\u2019-]*{_EU_SUFFIX}[ \t]+{_HOUSE}\b{_UNIT}",
        0.75,
        case_sensitive=True,
    ),
    Rule(
        "STREET_ADDRESS",
        "eu_prefix_street",
        rf"{_LEAD}\b{_EU_PREFIX}[ \t]+(?:[\w'\u2019.-]+[ \t]+){{0,4}}?{_HOUSE}\b{_UNIT}",
        0.7,
        case_sensitive=True,
    ),
    Rule(
        "STREET_ADDRESS",
        "street_name",
        r"\b(?:[A-ZÀ-Þ][\w'\u2019-]*[ \t]+){1,3}(?:Street|St\.|Road|Rd\.|Avenue|Ave\.|"
        r"Boulevard|Blvd\.|Lane|Drive|Turnpike|Parkway|Highway|Terrace|Crescent)(?![\w-])",
        0.6,
        case_sensitive=True,
    ),
    Rule(
        "STREET_ADDRESS",
        "number_prefix_street",
        rf"{_LEAD}{_HOUSE}[ \t]+{_EU_PREFIX}[ \t]+(?:[\w'\u2019.-]+[ \t]?){{1,4}}",
        0.7,
        case_sensitive=True,
    ),
    Rule(
        "STREET_ADDRESS",
        "po_box",
        r"\b(?:P\.?[ ]?O\.?[ ]?Box|Post[ ]Office[ ]Box|Postfach|Apartado(?:[ ]de[ ]correos)?|"
        r"Caixa[ ]Postal)[ ]*\d{1,6}\b",
        0.8,
    ),
    Rule(
        "STREET_ADDRESS",
        "military",
        r"\b(?:(?:USNS|USNV|USS|USCGC)[ ]+[A-Z][a-z]+|(?:PSC|CMR|Unit)[ ]+\d{4},?[ ]+Box[ ]+"
        r"\d{4}|(?:FPO|APO|DPO)[ ]+(?:AA|AE|AP)[ ]+\d{5})\b",
        0.85,
        case_sensitive=True,
    ),
    Rule(
        "STREET_ADDRESS",
        "city_state_zip",
        rf"\b[A-ZÀ-Þ][\w'\u2019.-]+(?:[ \t]+[A-ZÀ-Þ][\w'\u2019.-]+){{0,3}},?[ \t]+(?:{US_STATES}|"
        rf"{_AU_STATES})\.?,?[ \t]+\d{{4,5}}(?:-\d{{4}})?\b",
        0.8,
        case_sensitive=True,
    ),
    Rule(
        "STREET_ADDRESS",
        "unit_only",
        r"\b(?:Apt|Apartment|Suite|Ste|Unit|Flat)\.?[ ]*\#?[ ]*\d{1,5}[A-Z]?\b",
        0.6,
        case_sensitive=True,
    ),
)

# Words that, within a few tokens before (or just after) a low-scoring match, make it likely.
CONTEXT: dict[str, tuple[str, ...]] = {
    "MEDICAL_RECORD_NUMBER": (
        "mrn",
        "record",
        "chart",
        "patient",
        "admitted",
        "hospital",
        "admission",
        "encounter",
    ),
    "PHONE_NUMBER": (
        "phone",
        "tel",
        "telephone",
        "call",
        "called",
        "mobile",
        "cell",
        "fax",
        "desk",
        "office",
        "home",
        "work",
        "number",
        "reach",
        "contact",
        "whatsapp",
        "sms",
        "text",
        "dial",
        "ring",
        "registered",
        "landline",
        "pager",
        "ext",
        "answering",
        "message",
    ),
    "ZIP_CODE": ("zip", "zipcode", "postal", "postcode", "post code", "mail", "address"),
    "SWIFT_CODE": ("swift", "bic", "bank", "transfer", "wire"),
    "VEHICLE_ID": ("vin", "vehicle", "chassis", "car", "truck", "motorcycle"),
    "CREDIT_CARD": (
        "card",
        "credit",
        "debit",
        "visa",
        "mastercard",
        "amex",
        "cc",
        "pan",
        "payment",
        "expires",
        "expiry",
    ),
    "US_BANK_NUMBER": ("account", "acct", "bank", "checking", "savings", "deposit"),
    "ABA_ROUTING_NUMBER": ("routing", "aba", "transit", "rtn", "bank"),
}
