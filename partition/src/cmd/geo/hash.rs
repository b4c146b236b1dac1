//! 52-bit geohashes and distances on Redis's terms: latitude is limited to Web Mercator's
//! ±85.05112878°, positions decode to the centre of their cell, and distances use the
//! haversine formula with Redis's Earth radius, so digits match redis-server's.

/// Redis's `EARTH_RADIUS_IN_METERS`.
pub const EARTH_RADIUS: f64 = 6372797.560856;
const LAT_MIN: f64 = -85.05112878;
const LAT_MAX: f64 = 85.05112878;
const LON_MIN: f64 = -180.0;
const LON_MAX: f64 = 180.0;
/// Bits per coordinate.
pub const STEP: u32 = 26;

/// True when (`lon`, `lat`) can be indexed.
pub fn valid(lon: f64, lat: f64) -> bool {
    (LON_MIN..=LON_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

/// Spreads the low 32 bits of `v` to the even bit positions.
fn spread(v: u32) -> u64 {
    let mut x = v as u64;
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

/// Collects the even bits of `v`.
fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

/// Cell indexes of (`lon`, `lat`) with `step` bits per coordinate: (longitude, latitude).
/// A coordinate at the top of its range gets index `2^step`, one past the last cell, as in
/// Redis (the conversion does not clamp).
fn indexes(
    lon: f64,
    lat: f64,
    step: u32,
    lon_range: (f64, f64),
    lat_range: (f64, f64),
) -> (u32, u32) {
    let cells = (1u64 << step) as f64;
    let lat_off = (lat - lat_range.0) / (lat_range.1 - lat_range.0) * cells;
    let lon_off = (lon - lon_range.0) / (lon_range.1 - lon_range.0) * cells;
    (lon_off as u32, lat_off as u32)
}

/// Interleaves cell indexes: latitude in the even bits, longitude in the odd ones.
fn interleave(ilon: u32, ilat: u32) -> u64 {
    spread(ilat) | (spread(ilon) << 1)
}

fn hash_in(lon: f64, lat: f64, lon_range: (f64, f64), lat_range: (f64, f64)) -> u64 {
    let (ilon, ilat) = indexes(lon, lat, STEP, lon_range, lat_range);
    interleave(ilon, ilat)
}

/// The 52-bit geohash a valid position is stored under.
pub fn encode(lon: f64, lat: f64) -> u64 {
    hash_in(lon, lat, (LON_MIN, LON_MAX), (LAT_MIN, LAT_MAX))
}

/// A geohash cell at a coarser precision: `step` bits per coordinate (1..=26), interleaved
/// as in [`encode`]. Searches cover their shape with such cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell {
    pub bits: u64,
    pub step: u32,
}

/// A cell's extent in degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    pub lon_min: f64,
    pub lon_max: f64,
    pub lat_min: f64,
    pub lat_max: f64,
}

impl Cell {
    /// The cell of `step` bits per coordinate holding the valid position (`lon`, `lat`).
    pub fn of(lon: f64, lat: f64, step: u32) -> Cell {
        let (ilon, ilat) = indexes(lon, lat, step, (LON_MIN, LON_MAX), (LAT_MIN, LAT_MAX));
        Cell { bits: interleave(ilon, ilat), step }
    }

    /// The cell's extent. Bits above the step are not masked (a position on the top edge
    /// yields an area just past the range), as Redis decodes.
    pub fn area(self) -> Area {
        let cells = (1u64 << self.step) as f64;
        let ilat = squash(self.bits) as f64;
        let ilon = squash(self.bits >> 1) as f64;
        let lat_scale = LAT_MAX - LAT_MIN;
        let lon_scale = LON_MAX - LON_MIN;
        Area {
            lon_min: LON_MIN + (ilon / cells) * lon_scale,
            lon_max: LON_MIN + ((ilon + 1.0) / cells) * lon_scale,
            lat_min: LAT_MIN + (ilat / cells) * lat_scale,
            lat_max: LAT_MIN + ((ilat + 1.0) / cells) * lat_scale,
        }
    }

    /// The neighbour `dlon` cells east and `dlat` cells north, wrapping around at the edges
    /// of the grid. A coordinate that moves is reduced to `step` bits; one that does not is
    /// kept whole (Redis's `geohash_move_x`/`geohash_move_y`).
    pub fn moved(self, dlon: i32, dlat: i32) -> Cell {
        let mask = (1u32 << self.step).wrapping_sub(1);
        let mut ilon = squash(self.bits >> 1);
        let mut ilat = squash(self.bits);
        if dlon != 0 {
            ilon = ilon.wrapping_add_signed(dlon) & mask;
        }
        if dlat != 0 {
            ilat = ilat.wrapping_add_signed(dlat) & mask;
        }
        Cell { bits: interleave(ilon, ilat), step: self.step }
    }

    /// The scores of the stored positions inside the cell: `min <= score < max`.
    pub fn scores(self) -> (f64, f64) {
        let shift = 2 * (STEP - self.step);
        ((self.bits << shift) as f64, ((self.bits + 1) << shift) as f64)
    }
}

/// The centre of the cell `hash` names, clamped to the valid range: (longitude, latitude).
pub fn decode(hash: u64) -> (f64, f64) {
    let cells = (1u64 << STEP) as f64;
    let ilat = squash(hash) as f64;
    let ilon = squash(hash >> 1) as f64;
    let lat_scale = LAT_MAX - LAT_MIN;
    let lon_scale = LON_MAX - LON_MIN;
    let lat_min = LAT_MIN + (ilat / cells) * lat_scale;
    let lat_max = LAT_MIN + ((ilat + 1.0) / cells) * lat_scale;
    let lon_min = LON_MIN + (ilon / cells) * lon_scale;
    let lon_max = LON_MIN + ((ilon + 1.0) / cells) * lon_scale;
    let lon = ((lon_min + lon_max) / 2.0).clamp(LON_MIN, LON_MAX);
    let lat = ((lat_min + lat_max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The standard 11-character geohash (over ±90° latitude) of the stored position, as GEOHASH
/// replies; the last character is always '0', as in Redis.
pub fn to_base32(hash: u64) -> [u8; 11] {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let (lon, lat) = decode(hash);
    let bits = hash_in(lon, lat, (-180.0, 180.0), (-90.0, 90.0));
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().enumerate().take(10) {
        *c = ALPHABET[((bits >> (52 - (i + 1) * 5)) & 0x1F) as usize];
    }
    out
}

/// Degrees to radians.
pub fn rad(deg: f64) -> f64 {
    deg * (std::f64::consts::PI / 180.0)
}

/// Radians to degrees, computed as Redis does (a division, not `to_degrees`), so the last
/// bit agrees.
pub fn deg(rad: f64) -> f64 {
    rad / (std::f64::consts::PI / 180.0)
}

/// Distance along a meridian.
fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS * (rad(lat2) - rad(lat1)).abs()
}

/// Haversine distance in meters (Redis's `geohashGetDistance`, including its shortcut when
/// the longitudes are equal).
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((rad(lon2) - rad(lon1)) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (rad(lat1), rad(lat2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS * a.sqrt().asin()
}

/// The distance from the centre (`lon1`, `lat1`) to (`lon2`, `lat2`) when the point is inside
/// the `width` × `height` box (meters) around the centre (Redis's
/// `geohashGetDistanceIfInRectangle`).
pub fn distance_in_box(
    width: f64,
    height: f64,
    lon1: f64,
    lat1: f64,
    lon2: f64,
    lat2: f64,
) -> Option<f64> {
    if lat_distance(lat2, lat1) > height / 2.0 {
        return None;
    }
    if distance(lon2, lat2, lon1, lat2) > width / 2.0 {
        return None;
    }
    Some(distance(lon1, lat1, lon2, lat2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleaving_round_trips() {
        for v in [0u32, 1, 0x3FF_FFFF, 0x155_5555, 12345678] {
            assert_eq!(squash(spread(v)), v);
            assert_eq!(squash(spread(v) << 1 >> 1), v);
        }
    }

    #[test]
    fn palermo_as_redis_stores_it() {
        // GEOADD g 13.361389 38.115556 Palermo: redis-server's score and GEOHASH.
        let h = encode(13.361389, 38.115556);
        assert_eq!(h, 3479099956230698);
        assert_eq!(&to_base32(h), b"sqc8b49rny0");
        let (lon, lat) = decode(h);
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        let c = encode(15.087269, 37.502669);
        let (lon2, lat2) = decode(c);
        assert_eq!(format!("{:.4}", distance(lon, lat, lon2, lat2) / 1000.0), "166.2742");
    }
}
