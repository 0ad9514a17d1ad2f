/*
 * synth_words.h — built-in vocabularies of the embedded demo corpus
 * (included by synth.c only). Each topic has its own list of real English
 * words; no word appears in two lists (tests/test_data.c checks this), so
 * topics are separable by vocabulary while sharing function words, generic
 * words and each source's template words.
 */
#ifndef STRATA_SYNTH_WORDS_H
#define STRATA_SYNTH_WORDS_H

#define SYNTH_TOPIC_WORDS 20
#define SYNTH_BUILTIN_TOPICS 30

static const char *const synth_topic_names[SYNTH_BUILTIN_TOPICS] = {
    "astronomy", "cooking",   "football",  "banking",     "cardiology",
    "genetics",  "volcanoes", "oceans",    "music",       "law",
    "software",  "chemistry", "farming",   "aviation",    "architecture",
    "weather",   "railways",  "painting",  "antiquity",   "chess",
    "power",     "schools",   "insects",   "mountains",   "wine",
    "textiles",  "shipping",  "dentistry", "photography", "forestry",
};

static const char *const synth_topic_words[SYNTH_BUILTIN_TOPICS][SYNTH_TOPIC_WORDS] = {
    {"telescope", "galaxy", "orbit", "nebula", "comet", "planet", "asteroid", "stellar",
     "supernova", "quasar", "eclipse", "lunar", "cosmic", "pulsar", "redshift", "meteor",
     "exoplanet", "observatory", "spectrum", "constellation"},
    {"recipe", "simmer", "garlic", "oven", "sauce", "dough", "skillet", "broth", "roast",
     "whisk", "flour", "seasoning", "marinade", "saute", "pastry", "butter", "onion",
     "braise", "knead", "vinegar"},
    {"striker", "goalkeeper", "midfield", "penalty", "stadium", "referee", "league",
     "tackle", "offside", "fixture", "derby", "coach", "dribble", "header", "winger",
     "kickoff", "relegation", "tournament", "corner", "defender"},
    {"mortgage", "deposit", "interest", "loan", "lender", "credit", "savings", "branch",
     "overdraft", "teller", "collateral", "borrower", "liquidity", "ledger", "dividend",
     "cheque", "refinance", "bond", "treasury", "solvency"},
    {"heart", "artery", "cardiac", "arrhythmia", "ventricle", "stent", "cholesterol",
     "angina", "pacemaker", "valve", "aorta", "coronary", "hypertension", "statin",
     "atrial", "infarction", "pulse", "echocardiogram", "clot", "bypass"},
    {"gene", "allele", "genome", "mutation", "chromosome", "dna", "sequencing", "locus",
     "heredity", "phenotype", "genotype", "transcription", "rna", "plasmid", "crispr",
     "codon", "epigenetic", "haplotype", "nucleotide", "mendelian"},
    {"eruption", "magma", "lava", "crater", "caldera", "ash", "volcano", "pyroclastic",
     "tephra", "fumarole", "basalt", "vent", "seismic", "summit", "plume", "obsidian",
     "dormant", "geyser", "pumice", "rift"},
    {"coral", "reef", "tide", "current", "plankton", "whale", "salinity", "trench",
     "kelp", "estuary", "lagoon", "dolphin", "seabed", "upwelling", "mollusk", "shoal",
     "abyssal", "jellyfish", "seagrass", "atoll"},
    {"melody", "chord", "rhythm", "symphony", "guitar", "piano", "orchestra", "tempo",
     "harmony", "violin", "album", "concert", "lyrics", "drummer", "chorus", "octave",
     "composer", "sonata", "ballad", "jazz"},
    {"court", "judge", "statute", "plaintiff", "defendant", "verdict", "appeal", "lawsuit",
     "attorney", "jury", "contract", "tort", "testimony", "injunction", "precedent",
     "counsel", "litigation", "subpoena", "settlement", "tribunal"},
    {"compiler", "debugger", "function", "variable", "repository", "commit", "thread",
     "runtime", "library", "syntax", "kernel", "server", "database", "query", "bug",
     "refactor", "api", "framework", "script", "binary"},
    {"molecule", "reagent", "catalyst", "solvent", "acid", "oxidation", "isotope",
     "polymer", "titration", "compound", "electron", "valence", "reaction", "ion", "alkaline",
     "crystal", "enzyme", "precipitate", "covalent", "distillation"},
    {"harvest", "tractor", "wheat", "irrigation", "soil", "crop", "barley", "livestock",
     "fertilizer", "orchard", "pasture", "seed", "plough", "cattle", "silo", "dairy",
     "yield", "maize", "greenhouse", "compost"},
    {"aircraft", "runway", "pilot", "cockpit", "altitude", "turbine", "fuselage", "wing",
     "airport", "landing", "takeoff", "hangar", "autopilot", "jet", "propeller", "airline",
     "glider", "rudder", "airspace", "helicopter"},
    {"facade", "cathedral", "column", "arch", "vault", "skyscraper", "blueprint", "beam",
     "foundation", "gothic", "baroque", "atrium", "dome", "masonry", "brick", "courtyard",
     "concrete", "balcony", "cornice", "pavilion"},
    {"storm", "rainfall", "humidity", "forecast", "cyclone", "drought", "thunder",
     "barometric", "frost", "monsoon", "hail", "tornado", "heatwave", "snowfall", "fog",
     "breeze", "meteorology", "blizzard", "lightning", "drizzle"},
    {"locomotive", "railway", "carriage", "platform", "timetable", "freight", "signal",
     "track", "junction", "commuter", "tram", "sleeper", "gauge", "tunnel", "conductor",
     "depot", "rail", "diesel", "viaduct", "siding"},
    {"canvas", "brushstroke", "pigment", "easel", "portrait", "fresco", "watercolor",
     "palette", "landscape", "impressionism", "sketch", "gallery", "varnish", "mural",
     "tempera", "oil", "acrylic", "gouache", "cubism", "etching"},
    {"roman", "empire", "pharaoh", "papyrus", "senate", "legion", "temple", "dynasty",
     "amphora", "chariot", "gladiator", "athens", "sparta", "emperor", "pyramid", "scribe",
     "colosseum", "consul", "inscription", "ruins"},
    {"pawn", "bishop", "knight", "rook", "queen", "checkmate", "castling", "gambit",
     "endgame", "opening", "grandmaster", "stalemate", "sicilian", "blitz", "rating",
     "zugzwang", "fianchetto", "blunder", "rank", "promotion"},
    {"grid", "voltage", "transformer", "substation", "megawatt", "outage", "generator",
     "transmission", "windmill", "solar", "battery", "inverter", "utility", "blackout",
     "hydroelectric", "nuclear", "reactor", "feeder", "load", "kilowatt"},
    {"classroom", "teacher", "pupil", "curriculum", "homework", "exam", "semester",
     "principal", "tuition", "syllabus", "lesson", "kindergarten", "grade", "tutor",
     "literacy", "recess", "textbook", "enrollment", "diploma", "lecture"},
    {"beetle", "ant", "bee", "larva", "pupa", "antenna", "thorax", "butterfly", "moth",
     "hive", "pollinator", "colony", "mosquito", "termite", "wasp", "cricket", "dragonfly",
     "aphid", "cocoon", "nectar"},
    {"peak", "glacier", "ridge", "crevasse", "avalanche", "alpine", "ascent",
     "sherpa", "rope", "crampon", "piton", "bivouac", "couloir", "traverse", "col",
     "scree", "massif", "belay", "oxygen", "expedition"},
    {"vineyard", "grape", "vintage", "cellar", "tannin", "sommelier", "barrel",
     "fermentation", "merlot", "chardonnay", "cork", "bouquet", "decanter", "riesling",
     "terroir", "rose", "sparkling", "winery", "bottle", "pinot"},
    {"loom", "weave", "yarn", "cotton", "silk", "wool", "fabric", "spindle", "dye",
     "embroidery", "linen", "knit", "tweed", "textile", "stitch", "tapestry",
     "fiber", "denim", "polyester", "spinning"},
    {"container", "port", "vessel", "cargo", "tanker", "harbor", "crane", "freighter",
     "berth", "shipment", "customs", "dock", "hull", "maritime", "ballast", "tugboat",
     "manifest", "pallet", "logistics", "warehouse"},
    {"tooth", "enamel", "cavity", "gum", "molar", "dentist", "filling", "plaque",
     "orthodontic", "braces", "crown", "implant", "floss", "fluoride", "pulp",
     "incisor", "periodontal", "tartar", "denture", "extraction"},
    {"camera", "lens", "aperture", "shutter", "exposure", "tripod", "sensor", "focus",
     "flash", "negative", "darkroom", "zoom", "pixel", "viewfinder", "iso", "snapshot",
     "bokeh", "telephoto", "print", "mirrorless"},
    {"timber", "pine", "oak", "canopy", "sapling", "logging", "ranger", "woodland",
     "undergrowth", "spruce", "bark", "clearcut", "reforestation", "lumber", "birch",
     "wildfire", "seedling", "conifer", "sawmill", "understory"},
};

/* Shared by every topic and source: English function words. */
static const char *const synth_function_words[] = {
    "the", "of", "and", "in", "to", "a", "is", "for", "with", "on", "by", "that",
    "as", "are", "from", "this", "which", "its", "at", "be", "was", "an", "or", "it",
};

/* Shared by every topic: generic content words (noise that no topic owns). */
static const char *const synth_generic_words[] = {
    "new", "study", "report", "results", "system", "people", "use", "effect", "method",
    "data", "level", "process", "change", "group", "year", "model", "issue", "range",
    "part", "case", "increase", "local", "major", "recent", "common", "important",
    "general", "early", "large", "small", "several", "main",
};

#endif
