//! The fixed vocabulary of the simulated company: regions and cities, names, the product
//! catalogue, industries, and the text templates of tickets and survey comments. Nothing here
//! is random; the generator draws from these lists.
//!
//! May use: nothing of the crate.

/// The company's name, written into the ground truth.
pub(crate) const COMPANY: &str = "Larkspur Supply Co.";

/// Country of every region (one currency, one country: the workspace model has one currency).
pub(crate) const COUNTRY: &str = "United States";

/// A city customers live in.
pub(crate) struct City {
    pub name: &'static str,
    /// First three digits of its ZIP codes.
    pub zip3: &'static str,
    /// Telephone area code.
    pub area: &'static str,
}

/// A sales region.
pub(crate) struct Region {
    pub name: &'static str,
    /// Share of customers living there.
    pub share: f64,
    pub cities: &'static [City],
}

const fn city(name: &'static str, zip3: &'static str, area: &'static str) -> City {
    City { name, zip3, area }
}

pub(crate) const REGIONS: &[Region] = &[
    Region {
        name: "North",
        share: 0.13,
        cities: &[
            city("Minneapolis", "554", "612"),
            city("Milwaukee", "532", "414"),
            city("Detroit", "482", "313"),
            city("Fargo", "581", "701"),
        ],
    },
    Region {
        name: "South",
        share: 0.22,
        cities: &[
            city("Houston", "770", "713"),
            city("Atlanta", "303", "404"),
            city("Miami", "331", "305"),
            city("Nashville", "372", "615"),
        ],
    },
    Region {
        name: "East",
        share: 0.26,
        cities: &[
            city("New York", "100", "212"),
            city("Boston", "021", "617"),
            city("Philadelphia", "191", "215"),
            city("Baltimore", "212", "410"),
        ],
    },
    Region {
        name: "West",
        share: 0.24,
        cities: &[
            city("Los Angeles", "900", "213"),
            city("Seattle", "981", "206"),
            city("San Francisco", "941", "415"),
            city("Portland", "972", "503"),
        ],
    },
    Region {
        name: "Central",
        share: 0.15,
        cities: &[
            city("Denver", "802", "720"),
            city("Kansas City", "641", "816"),
            city("St. Louis", "631", "314"),
            city("Omaha", "681", "402"),
        ],
    },
];

/// Genders as written in `customers.gender`, with their shares.
pub(crate) const GENDERS: &[(&str, f64)] = &[("F", 0.49), ("M", 0.48), ("X", 0.03)];

pub(crate) const FIRST_F: &[&str] = &[
    "Olivia",
    "Emma",
    "Ava",
    "Sophia",
    "Isabella",
    "Mia",
    "Charlotte",
    "Amelia",
    "Harper",
    "Evelyn",
    "Abigail",
    "Emily",
    "Ella",
    "Grace",
    "Chloe",
    "Victoria",
    "Riley",
    "Aria",
    "Lily",
    "Zoe",
    "Hannah",
    "Nora",
    "Layla",
    "Maya",
    "Sarah",
    "Laura",
    "Rachel",
    "Megan",
    "Julia",
    "Anna",
    "Rosa",
    "Priya",
    "Mei",
    "Fatima",
    "Elena",
    "Lucia",
    "Naomi",
    "Keisha",
    "Ingrid",
    "Carmen",
];

pub(crate) const FIRST_M: &[&str] = &[
    "Liam",
    "Noah",
    "Oliver",
    "Elijah",
    "James",
    "William",
    "Benjamin",
    "Lucas",
    "Henry",
    "Theodore",
    "Jack",
    "Levi",
    "Alexander",
    "Mason",
    "Michael",
    "Ethan",
    "Daniel",
    "Jacob",
    "Logan",
    "Jackson",
    "Samuel",
    "David",
    "Joseph",
    "Carter",
    "Owen",
    "Wyatt",
    "John",
    "Luke",
    "Mateo",
    "Omar",
    "Raj",
    "Wei",
    "Hiroshi",
    "Andre",
    "Marcus",
    "Diego",
    "Ivan",
    "Kwame",
    "Ali",
    "Thomas",
];

pub(crate) const FIRST_X: &[&str] = &[
    "Alex", "Jordan", "Taylor", "Casey", "Morgan", "Jamie", "Avery", "Quinn", "Rowan", "Sage",
];

pub(crate) const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Chen",
    "Patel",
    "Kim",
    "Singh",
    "Okafor",
    "Novak",
    "Larsen",
    "Murphy",
    "Cohen",
    "Silva",
];

/// Domains reserved for documentation (RFC 2606), so no generated address can reach anyone.
pub(crate) const EMAIL_DOMAINS: &[&str] = &[
    "example.com",
    "example.net",
    "example.org",
    "mail.example.com",
];

/// Acquisition channels of customers with their shares.
pub(crate) const ACQUISITION_CHANNELS: &[(&str, f64)] = &[
    ("organic", 0.30),
    ("paid_search", 0.22),
    ("social", 0.15),
    ("email", 0.08),
    ("referral", 0.15),
    ("partner", 0.10),
];

/// A product category with its share of purchases and its products (name, list price in
/// whole currency units).
pub(crate) struct Category {
    pub name: &'static str,
    pub popularity: f64,
    pub products: &'static [(&'static str, f64)],
}

pub(crate) const CATEGORIES: &[Category] = &[
    Category {
        name: "Electronics",
        popularity: 0.18,
        products: &[
            ("Wireless Earbuds", 89.0),
            ("Bluetooth Speaker", 59.0),
            ("Smart Watch", 199.0),
            ("Action Camera", 249.0),
            ("Memory Card 128GB", 24.99),
            ("USB-C Charger", 29.99),
            ("Power Bank", 39.99),
            ("Noise-Cancelling Headphones", 279.0),
            ("E-Reader", 129.0),
            ("Phone Case", 19.99),
        ],
    },
    Category {
        name: "Home & Kitchen",
        popularity: 0.22,
        products: &[
            ("Chef's Knife", 79.0),
            ("Cutting Board", 34.99),
            ("Cast Iron Skillet", 44.99),
            ("Coffee Grinder", 69.0),
            ("Pour-Over Kettle", 54.99),
            ("Ceramic Mug Set", 32.0),
            ("Linen Tablecloth", 48.0),
            ("Storage Jars", 27.5),
            ("Stand Mixer", 329.0),
            ("Dish Towels", 14.99),
        ],
    },
    Category {
        name: "Outdoor",
        popularity: 0.15,
        products: &[
            ("Trail Backpack 30L", 119.0),
            ("Tent 2-Person", 229.0),
            ("Sleeping Bag", 149.0),
            ("Headlamp", 34.99),
            ("Water Filter", 39.0),
            ("Camp Stove", 64.0),
            ("Fuel Canister", 7.99),
            ("Trekking Poles", 89.0),
            ("Insulated Bottle", 29.99),
            ("Rain Jacket", 159.0),
        ],
    },
    Category {
        name: "Apparel",
        popularity: 0.20,
        products: &[
            ("Merino T-Shirt", 65.0),
            ("Wool Socks", 18.0),
            ("Fleece Pullover", 79.0),
            ("Chino Trousers", 69.0),
            ("Denim Jacket", 98.0),
            ("Running Shorts", 35.0),
            ("Beanie", 24.0),
            ("Leather Belt", 45.0),
            ("Sneakers", 110.0),
            ("Rain Poncho", 22.0),
        ],
    },
    Category {
        name: "Books & Media",
        popularity: 0.12,
        products: &[
            ("Cookbook: Weeknight Meals", 28.0),
            ("Field Guide to Birds", 24.95),
            ("Hiking Atlas", 32.0),
            ("Jigsaw Puzzle 1000 pcs", 19.99),
            ("Board Game: Harbors", 45.0),
            ("Vinyl Record", 29.99),
            ("Journal Notebook", 16.0),
            ("Watercolor Set", 38.0),
            ("Novel: The Quiet Coast", 17.99),
            ("City Travel Guide", 21.0),
        ],
    },
    Category {
        name: "Health & Beauty",
        popularity: 0.13,
        products: &[
            ("Sunscreen SPF 50", 14.99),
            ("Lip Balm", 5.99),
            ("Face Moisturizer", 32.0),
            ("Shampoo Bar", 12.0),
            ("Bamboo Toothbrush Set", 9.99),
            ("Yoga Mat", 58.0),
            ("Resistance Bands", 24.99),
            ("Foam Roller", 29.0),
            ("Essential Oil Set", 36.0),
            ("Hand Cream", 11.5),
        ],
    },
];

/// Planted cross-sell rules: when the first product is in a basket, the second is added with
/// this probability (if the basket has room). A basket analysis should find them.
pub(crate) const COMPANIONS: &[(&str, &str, f64)] = &[
    ("Action Camera", "Memory Card 128GB", 0.55),
    ("Camp Stove", "Fuel Canister", 0.60),
    ("Coffee Grinder", "Pour-Over Kettle", 0.35),
    ("Tent 2-Person", "Sleeping Bag", 0.40),
    ("Cast Iron Skillet", "Cookbook: Weeknight Meals", 0.30),
    ("Yoga Mat", "Resistance Bands", 0.35),
];

/// Sales teams; every region has one rep in each.
pub(crate) const TEAMS: &[&str] = &["Field Sales", "Inside Sales", "Partner Sales"];

pub(crate) const INDUSTRIES: &[(&str, f64)] = &[
    ("technology", 0.18),
    ("finance", 0.10),
    ("healthcare", 0.13),
    ("manufacturing", 0.15),
    ("retail", 0.17),
    ("education", 0.09),
    ("hospitality", 0.10),
    ("construction", 0.08),
];

pub(crate) const LEAD_SOURCES: &[(&str, f64)] = &[
    ("web_form", 0.28),
    ("paid_search", 0.18),
    ("social", 0.12),
    ("email", 0.10),
    ("referral", 0.12),
    ("event", 0.10),
    ("partner", 0.10),
];

pub(crate) const COMPANY_PREFIX: &[&str] = &[
    "Birch",
    "Harbor",
    "Summit",
    "Copper",
    "Maple",
    "Granite",
    "Blue Ridge",
    "Northwind",
    "Cedar",
    "Lakeside",
    "Ironwood",
    "Silverline",
    "Prairie",
    "Redwood",
    "Clearwater",
    "Oakmont",
    "Pinecrest",
    "Bayview",
    "Stonebridge",
    "Willow",
];

pub(crate) const COMPANY_SUFFIX: &[&str] = &[
    "Logistics",
    "Foods",
    "Health",
    "Systems",
    "Outfitters",
    "Partners",
    "Labs",
    "Hospitality",
    "Builders",
    "Academy",
    "Retail",
    "Works",
];

pub(crate) const COMPANY_FORM: &[&str] = &["LLC", "Inc.", "Co.", "Group"];

pub(crate) const TICKET_CHANNELS: &[(&str, f64)] = &[
    ("email", 0.35),
    ("phone", 0.30),
    ("chat", 0.25),
    ("web_form", 0.10),
];

/// Ticket categories with their shares and description templates (`{p}` is a product name).
pub(crate) const TICKET_CATEGORIES: &[(&str, f64, &[&str])] = &[
    (
        "delivery",
        0.28,
        &[
            "Order with {p} arrived late, customer asks about shipping refund",
            "Tracking shows delivered, but the {p} never arrived",
            "Box was damaged in transit, {p} scratched",
        ],
    ),
    (
        "product_defect",
        0.18,
        &[
            "{p} broke after two weeks of normal use",
            "{p} arrived with a missing part, asked for replacement",
            "Quality issue with {p}: finish or fit not as described",
        ],
    ),
    (
        "returns",
        0.16,
        &[
            "Wants to return the {p}, wrong size or colour",
            "Return label for {p} not received, please resend",
            "Refund for returned {p} not yet credited",
        ],
    ),
    (
        "billing",
        0.14,
        &[
            "Charged twice for the order with {p}",
            "Promo code not applied to {p}, asks for the difference",
            "Invoice address wrong, needs a corrected invoice",
        ],
    ),
    (
        "account",
        0.12,
        &[
            "Cannot log in, password reset email not arriving",
            "Wants to change email address and phone number",
            "Asks to unsubscribe from SMS, keep email",
        ],
    ),
    (
        "technical",
        0.12,
        &[
            "Checkout fails at payment step, tried two cards",
            "App crashes when adding {p} to the cart",
            "Product page for {p} shows wrong price",
        ],
    ),
];

pub(crate) const SURVEY_PROMOTER: &[&str] = &[
    "Great quality, fast delivery",
    "Love the range, will buy again",
    "Staff were helpful and friendly",
    "Best prices I have found, and returns are easy",
    "Always reliable",
];

pub(crate) const SURVEY_PASSIVE: &[&str] = &[
    "Good products, but shipping is slow",
    "Fine overall",
    "Decent, a bit pricey",
    "OK, the website could be easier to use",
];

pub(crate) const SURVEY_DETRACTOR: &[&str] = &[
    "Item arrived broken, and support was slow",
    "Too expensive for what you get",
    "Returns process is a pain, never again",
    "Waited weeks for a refund",
    "Order was wrong, twice",
];

/// Sources of web sessions that are not tied to a campaign click.
pub(crate) const SESSION_SOURCES: &[(&str, f64)] = &[
    ("direct", 0.35),
    ("organic_search", 0.30),
    ("email", 0.10),
    ("social", 0.10),
    ("paid_search", 0.08),
    ("referral", 0.07),
];

/// Relative activity of consumers by hour of day (UTC, the simulation's only time zone).
pub(crate) const HOUR_WEIGHTS: [f64; 24] = [
    1.0, 0.6, 0.4, 0.3, 0.3, 0.5, 1.0, 2.0, 3.0, 3.5, 4.0, 4.5, 5.0, 5.0, 4.5, 4.5, 5.0, 5.5, 6.5,
    7.5, 8.0, 7.0, 5.0, 2.5,
];
