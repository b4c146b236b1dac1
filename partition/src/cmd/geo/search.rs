//! How a search finds its members, the way Redis 7.0 does (`geohash_helper.c`, `geo.c`):
//! the shape is covered by the geohash cell of the centre plus its eight neighbours, at a
//! precision estimated from the shape's size; each cell is a score interval of the sorted
//! set, read with a range query in a fixed order (centre, N, S, E, W, NE, NW, SE, SW), and
//! every member found is tested against the shape on its decoded position.
//!
//! Matching Redis cell for cell matters beyond speed: without ASC/DESC the reply lists
//! members in that order, `COUNT n ANY` keeps the first n found, and scores outside the
//! geohash range (negative, ≥ 2^52, infinite) fall in no cell, so they are never returned.

use std::cmp::Ordering;

use super::hash::{self, Cell, EARTH_RADIUS, STEP};
use crate::types::zset::{ScoreRange, ZSet};

/// Redis's `MERCATOR_MAX`: half the Earth's circumference in Web Mercator meters.
const MERCATOR_MAX: f64 = 20037726.37;

/// The shape of a search, in the caller's unit.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    Radius(f64),
    Box { width: f64, height: f64 },
}

/// A search: centre, shape, and meters per unit. Sizes stay in the caller's unit and are
/// converted where Redis converts them, so every float is computed the same way.
#[derive(Debug, Clone, Copy)]
pub struct Query {
    pub lon: f64,
    pub lat: f64,
    pub shape: Shape,
    pub conversion: f64,
}

/// A member inside the shape.
#[derive(Debug, Clone)]
pub struct Point {
    pub member: Vec<u8>,
    pub score: f64,
    /// Distance from the centre, in meters.
    pub dist: f64,
    pub lon: f64,
    pub lat: f64,
}

/// The bounding box of the shape in degrees (Redis's `geohashBoundingBox`).
struct Bounds {
    lon_min: f64,
    lon_max: f64,
    lat_min: f64,
    lat_max: f64,
}

/// Redis's `geohashEstimateStepsByRadius`: bits per coordinate of cells about as large as
/// the search, fewer near the poles where cells get narrow.
fn estimate_step(radius_m: f64, lat: f64) -> u32 {
    if radius_m == 0.0 {
        return STEP;
    }
    let mut step: i32 = 1;
    let mut range = radius_m;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, STEP as i32) as u32
}

impl Query {
    /// Distance in meters from the centre to (`lon`, `lat`) when the point is inside.
    pub fn contains(&self, lon: f64, lat: f64) -> Option<f64> {
        let c = self.conversion;
        match self.shape {
            Shape::Radius(r) => {
                let d = hash::distance(self.lon, self.lat, lon, lat);
                (d <= r * c).then_some(d)
            }
            Shape::Box { width, height } => {
                hash::distance_in_box(width * c, height * c, self.lon, self.lat, lon, lat)
            }
        }
    }

    fn bounds(&self) -> Bounds {
        let c = self.conversion;
        let (half_w, half_h) = match self.shape {
            Shape::Radius(r) => (c * r, c * r),
            Shape::Box { width, height } => (c * (width / 2.0), c * (height / 2.0)),
        };
        let lat_delta = hash::deg(half_h / EARTH_RADIUS);
        let lon_delta_top =
            hash::deg(half_w / EARTH_RADIUS / hash::rad(self.lat + lat_delta).cos());
        let lon_delta_bottom =
            hash::deg(half_w / EARTH_RADIUS / hash::rad(self.lat - lat_delta).cos());
        // The wider edge of the box is the one nearer the equator.
        let lon_delta = if self.lat < 0.0 { lon_delta_bottom } else { lon_delta_top };
        Bounds {
            lon_min: self.lon - lon_delta,
            lon_max: self.lon + lon_delta,
            lat_min: self.lat - lat_delta,
            lat_max: self.lat + lat_delta,
        }
    }

    /// The radius used to pick the precision: the box's half diagonal for boxes.
    fn reach(&self) -> f64 {
        let r = match self.shape {
            Shape::Radius(r) => r,
            Shape::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        };
        r * self.conversion
    }

    /// The cells to read, in Redis's order: centre, N, S, E, W, NE, NW, SE, SW; `None` for a
    /// neighbour the shape cannot reach (Redis's `geohashCalculateAreasByShapeWGS84`).
    pub fn cells(&self) -> [Option<Cell>; 9] {
        let b = self.bounds();
        let mut step = estimate_step(self.reach(), self.lat);
        let mut centre = Cell::of(self.lon, self.lat, step);
        // The estimate can leave part of the shape outside the neighbours when the centre is
        // near its cell's edge: then use cells twice as large.
        let too_fine = centre.moved(0, 1).area().lat_max < b.lat_max
            || centre.moved(0, -1).area().lat_min > b.lat_min
            || centre.moved(1, 0).area().lon_max < b.lon_max
            || centre.moved(-1, 0).area().lon_min > b.lon_min;
        if step > 1 && too_fine {
            step -= 1;
            centre = Cell::of(self.lon, self.lat, step);
        }
        let area = centre.area();
        let (mut north, mut south, mut east, mut west) = (true, true, true, true);
        // Redis keeps every neighbour at step 1, where cells span a hemisphere. The negated
        // comparisons keep a neighbour when a bound is NaN (an infinite radius), as Redis.
        #[allow(clippy::neg_cmp_op_on_partial_ord)]
        if step >= 2 {
            south = !(area.lat_min < b.lat_min);
            north = !(area.lat_max > b.lat_max);
            west = !(area.lon_min < b.lon_min);
            east = !(area.lon_max > b.lon_max);
        }
        let near = |keep: bool, dlon: i32, dlat: i32| keep.then(|| centre.moved(dlon, dlat));
        [
            Some(centre),
            near(north, 0, 1),
            near(south, 0, -1),
            near(east, 1, 0),
            near(west, -1, 0),
            near(north && east, 1, 1),
            near(north && west, -1, 1),
            near(south && east, 1, -1),
            near(south && west, -1, -1),
        ]
    }

    /// The members of `zs` inside the shape, in cell order then score order. With `limit`,
    /// stops as soon as that many are found (`COUNT n ANY`).
    pub fn run(&self, zs: &ZSet, limit: Option<usize>) -> Vec<Point> {
        let mut found = Vec::new();
        let full = |found: &Vec<Point>| limit.is_some_and(|n| found.len() >= n);
        // Huge shapes can make neighbours coincide: a cell equal to the last neighbour read
        // is skipped (as in Redis, the centre is not compared against).
        let mut last: Option<Cell> = None;
        for (i, cell) in self.cells().into_iter().enumerate() {
            let Some(cell) = cell else { continue };
            if i > 0 && last == Some(cell) {
                continue;
            }
            if full(&found) {
                break;
            }
            let (min, max) = cell.scores();
            let range = ScoreRange { min, max, minex: false, maxex: true };
            let mut pos = zs.first_in_scores(&range).map(|(p, _)| p);
            while let Some(p) = pos {
                let score = zs.score_at(p);
                if !range.lte_max(score) {
                    break;
                }
                let (lon, lat) = hash::decode(score as u64);
                if let Some(dist) = self.contains(lon, lat) {
                    found.push(Point { member: zs.member(p).to_vec(), score, dist, lon, lat });
                    if full(&found) {
                        break;
                    }
                }
                pos = zs.next(p);
            }
            if i > 0 {
                last = Some(cell);
            }
        }
        found
    }
}

/// Redis's distance comparison (`sort_gp_asc`): only `==` and `>` are asked.
pub fn by_distance(a: &Point, b: &Point) -> Ordering {
    if a.dist == b.dist {
        Ordering::Equal
    } else if a.dist > b.dist {
        Ordering::Greater
    } else {
        Ordering::Less
    }
}

/// Orders `v[..keep]` as the first `keep` elements of `v` sorted by `cmp`, leaving the rest
/// partly sorted — with exactly the element moves of Redis's `pqsort` (a Bentley–McIlroy
/// quicksort that skips the partitions outside the kept range), because Redis uses it when
/// COUNT cuts a sorted reply short and its order of equal elements is part of the reply.
pub fn partial_sort<T>(v: &mut [T], keep: usize, cmp: impl Fn(&T, &T) -> Ordering) {
    if keep > 0 {
        quicksort(v, 0, v.len(), (0, keep - 1), &cmp);
    }
}

/// The index of the median of three elements, picked as `pqsort` picks it.
fn median3<T>(v: &[T], a: usize, b: usize, c: usize, cmp: &impl Fn(&T, &T) -> Ordering) -> usize {
    if cmp(&v[a], &v[b]).is_lt() {
        if cmp(&v[b], &v[c]).is_lt() {
            b
        } else if cmp(&v[a], &v[c]).is_lt() {
            c
        } else {
            a
        }
    } else if cmp(&v[b], &v[c]).is_gt() {
        b
    } else if cmp(&v[a], &v[c]).is_lt() {
        a
    } else {
        c
    }
}

/// Sorts the `n` elements from `start` where they overlap the inclusive index range `keep`.
fn quicksort<T>(
    v: &mut [T],
    mut start: usize,
    mut n: usize,
    keep: (usize, usize),
    cmp: &impl Fn(&T, &T) -> Ordering,
) {
    let overlaps = |from: usize, len: usize| keep.1 >= from && keep.0 < from + len;
    loop {
        if n < 7 {
            for m in start + 1..start + n {
                let mut l = m;
                while l > start && cmp(&v[l - 1], &v[l]).is_gt() {
                    v.swap(l, l - 1);
                    l -= 1;
                }
            }
            return;
        }
        let mut pm = start + n / 2;
        if n > 7 {
            let mut pl = start;
            let mut pn = start + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = median3(v, pl, pl + d, pl + 2 * d, cmp);
                pm = median3(v, pm - d, pm, pm + d, cmp);
                pn = median3(v, pn - 2 * d, pn - d, pn, cmp);
            }
            pm = median3(v, pl, pm, pn, cmp);
        }
        v.swap(start, pm);
        // Three-way partition around v[start]: equal keys gather at both ends ([start, pa)
        // and (pd, end)), then move to the middle.
        let (mut pa, mut pb) = (start + 1, start + 1);
        let (mut pc, mut pd) = (start + n - 1, start + n - 1);
        loop {
            while pb <= pc {
                let c = cmp(&v[pb], &v[start]);
                if c.is_gt() {
                    break;
                }
                if c.is_eq() {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let c = cmp(&v[pc], &v[start]);
                if c.is_lt() {
                    break;
                }
                if c.is_eq() {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let end = start + n;
        let r = (pa - start).min(pb - pa);
        swap_runs(v, start, pb - r, r);
        let r = (pd - pc).min(end - pd - 1);
        swap_runs(v, pb, end - r, r);
        let less = pb - pa;
        if less > 1 && overlaps(start, less) {
            quicksort(v, start, less, keep, cmp);
        }
        let greater = pd - pc;
        if greater > 1 && overlaps(end - greater, greater) {
            start = end - greater;
            n = greater;
            continue;
        }
        return;
    }
}

/// Swaps `v[a..a + n]` with `v[b..b + n]` element by element.
fn swap_runs<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for k in 0..n {
        v.swap(a + k, b + k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_sort_orders_the_kept_prefix() {
        let mut r = 12345u64;
        for len in 0..120usize {
            for keep in [1, 2, 3, len / 2, len] {
                let mut v: Vec<u64> = (0..len)
                    .map(|_| {
                        r = r.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        (r >> 33) % 20
                    })
                    .collect();
                let mut sorted = v.clone();
                sorted.sort();
                partial_sort(&mut v, keep, |a, b| a.cmp(b));
                let k = keep.min(len);
                assert_eq!(v[..k], sorted[..k], "len {len} keep {keep}");
            }
        }
    }

    #[test]
    fn step_estimates() {
        assert_eq!(estimate_step(0.0, 0.0), 26);
        assert_eq!(estimate_step(1.0, 0.0), 24);
        assert_eq!(estimate_step(20_000_000.0, 0.0), 1);
        assert_eq!(estimate_step(100_000.0, 0.0), 7);
        assert_eq!(estimate_step(100_000.0, 70.0), 6);
        assert_eq!(estimate_step(100_000.0, -85.0), 5);
        assert_eq!(estimate_step(f64::INFINITY, 0.0), 1);
    }

    #[test]
    fn neighbours_wrap_around_the_grid() {
        let c = Cell { bits: 0, step: 2 };
        let w = c.moved(-1, 0);
        assert_eq!(w.area().lon_min, 90.0);
        let s = c.moved(0, -1);
        assert!(s.area().lat_min > 0.0);
        assert_eq!(c.moved(1, 1).moved(-1, -1), c);
    }

    #[test]
    fn cell_scores_cover_the_stored_hash() {
        let h = hash::encode(13.361389, 38.115556);
        for step in 1..=STEP {
            let cell = Cell::of(13.361389, 38.115556, step);
            let (min, max) = cell.scores();
            assert!(min <= h as f64 && (h as f64) < max, "step {step}");
        }
    }
}
