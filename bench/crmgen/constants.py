"""Vocabulary and the behavioural model's parameters (shares, Beta and Gamma shapes)."""

DAY = 86400.0


YEAR_DAYS = 365.25


JOURNAL = "bench_generate_index_journal"


# ---------------------------------------------------------------------------
# vocabularies (ASCII on purpose: lower() of the vocabulary = the email parts)
# ---------------------------------------------------------------------------
FIRST_NAMES = """Emma Liam Olivia Noah Ava Lucas Sophia Mason Mia Ethan Isabella Louis Chloe Hugo
Lea Jules Nina Adam Sarah Arthur Julia Gabriel Laura Leo Anna Paul Marie Thomas Eva Victor Clara
Max Lena Felix Hannah Finn Sofia Luca Giulia Marco Elena Pablo Lucia Diego Carmen Daniel Alice
Peter Kate James Grace Henry Ruby Jack Amelia Oscar Lily Samuel Zoe David Ella Martin Ines Tom
Rosa Jan Eline Bram Fleur Lars Anouk Sven Ida Karl Greta""".split()


LAST_NAMES = """Smith Johnson Martin Bernard Dubois Moreau Laurent Simon Michel Lefebvre Leroy
Mueller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Peeters Janssens
Maes Jacobs Mertens Willems Claes Goossens Wouters DeVries Bakker Visser Smit Mulder Bos Rossi
Russo Ferrari Esposito Bianchi Romano Colombo Garcia Martinez Lopez Sanchez Perez Gomez Fernandez
Brown Taylor Wilson Davies Evans Thomas Roberts Walker Wright Green Hall Wood Clarke Jackson
White Harris Lewis Young King Baker Adams Nelson Carter Mitchell Turner Parker Collins Murphy""".split()


COMPANY_A = """Blue Red Green Silver Golden Bright North South East West Prime Smart Rapid
Urban Alpine Coastal Global Royal Future Pixel Solid Clear Swift Noble Vertex Nova Apex Delta
Sigma Orion Atlas Lunar Solar Quantum Crystal Iron Oak Cedar Maple River Stone Harbor Summit""".split()


COMPANY_B = """Logistics Systems Foods Analytics Consulting Labs Works Motors Energy Design
Media Capital Health Pharma Robotics Textiles Metals Builders Networks Software Farms Studio
Partners Retail Brewing Marine Optics Printing Security Travel Dynamics Solutions Supply Tech""".split()


FUNCTIONS = """CEO|CFO|CTO|Buyer|Purchaser|Office Manager|Sales Manager|IT Manager|Accountant|
Project Manager|Consultant|Engineer|Director|Assistant|Owner""".replace("\n", "").split("|")


PRODUCTS = """Office furniture|Annual maintenance|ERP rollout|Cloud migration|Website redesign|
Support contract|Training days|Licence renewal|Server upgrade|Consulting|Warehouse racks|
Fleet leasing|Printer park|Security audit|Data analytics|Mobile app|Marketing campaign|
Catering|Coffee machines|Laptops|Network cabling|CRM setup|Payroll outsourcing|Solar panels|
Spare parts|Packaging|Translation|Event booth|Insurance|Cleaning services""".replace(
    "\n", ""
).split("|")


STREETS = """Main Street|Station Road|Church Lane|Market Square|Mill Road|Park Avenue|
Rue Royale|Avenue Louise|Rue du Midi|Kerkstraat|Stationsstraat|Dorpstraat|Hauptstrasse|
Bahnhofstrasse|Gartenweg|Via Roma|Calle Mayor|Gran Via|High Street|King Street|Elm Street|
Oak Avenue|Rue de la Paix|Boulevard Voltaire|Lindenallee|Herengracht|Corso Italia""".replace(
    "\n", ""
).split("|")


FREEMAIL = [
    "gmail.com",
    "outlook.com",
    "hotmail.com",
    "yahoo.com",
    "gmx.de",
    "orange.fr",
    "skynet.be",
    "libero.it",
]


# code, weight, languages by preference, tz, company suffixes, cities (name, zip),
# phone: country code, landline [(prefix, random digits)], mobile [(prefix, random digits)]
# fmt: off
COUNTRIES = [
    ("BE", 16, ("fr_BE", "nl_BE", "fr_FR", "nl_NL"), "Europe/Brussels", ("SA", "SRL", "BV", "NV"),
     [("Brussels", "1000"), ("Antwerp", "2000"), ("Ghent", "9000"), ("Liege", "4000"),
      ("Namur", "5000"), ("Leuven", "3000"), ("Bruges", "8000")],
     "32", [("2", 7)], [("47", 7)]),
    ("FR", 16, ("fr_FR",), "Europe/Paris", ("SA", "SARL", "SAS"),
     [("Paris", "75001"), ("Lyon", "69001"), ("Lille", "59000"), ("Nantes", "44000"),
      ("Bordeaux", "33000")],
     "33", [("1", 8)], [("61", 7)]),
    ("DE", 14, ("de_DE",), "Europe/Berlin", ("GmbH", "AG", "KG"),
     [("Berlin", "10115"), ("Hamburg", "20095"), ("Munich", "80331"), ("Cologne", "50667")],
     "49", [("30", 8)], [("151", 8)]),
    ("NL", 10, ("nl_NL",), "Europe/Amsterdam", ("BV", "NV"),
     [("Amsterdam", "1012"), ("Rotterdam", "3011"), ("Utrecht", "3511"), ("Eindhoven", "5611")],
     "31", [("20", 7)], [("61", 7)]),
    ("GB", 12, ("en_GB",), "Europe/London", ("Ltd", "PLC", "LLP"),
     [("London", "EC1A 1BB"), ("Manchester", "M1 1AE"), ("Leeds", "LS1 1UR"), ("Bristol", "BS1 4DJ")],
     "44", [("207", 7)], [("791", 7)]),
    ("US", 20, ("en_US",), "America/New_York", ("Inc", "LLC", "Corp"),
     [("New York", "10001"), ("San Francisco", "94103"), ("Boston", "02108"), ("Chicago", "60601")],
     "1", [("212", 7), ("415", 7), ("617", 7)], [("212", 7), ("415", 7), ("617", 7)]),
    ("ES", 6, ("es_ES",), "Europe/Madrid", ("SL", "SA"),
     [("Madrid", "28001"), ("Barcelona", "08001"), ("Valencia", "46001"), ("Sevilla", "41001")],
     "34", [("91", 7)], [("6", 8)]),
    ("IT", 6, ("it_IT",), "Europe/Rome", ("Srl", "SpA"),
     [("Rome", "00118"), ("Milan", "20121"), ("Turin", "10121"), ("Naples", "80100")],
     "39", [("06", 8)], [("33", 8)]),
]


# model parameters (see the module docstring)
COMPANY_SHARE = 0.25  # of the partners


CONTACT_SHARE = 0.60  # of the non-company partners: contacts of a company


RATE_SHAPE = 0.8  # Gamma shape of the opportunity rate


WIN_BETA = (2.0, 2.5)  # win probability q ~ Beta


DROP_BETA = (1.2, 3.5)  # dropout after a won deal p ~ Beta


FIRST_PROB = 0.9  # customer's first opportunity at its creation
CYCLE_MEDIAN_DAYS, CYCLE_SIGMA = 24.0, 0.8
