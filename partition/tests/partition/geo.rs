//! Geo command tests. The table-driven cases hold the exact bytes redis-server 7.0.15 replied
//! to the same commands (recorded side by side): stored geohashes, GEOPOS digits, distances,
//! and the order searches find members in (cell by cell, as Redis reads them).

use crate::string::{must_reply, resp3};
use crate::util::*;

#[tokio::test]
async fn geo_redis_replies_resp2() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let cases: &[(&str, &str)] = &[
        ("flushall", "+OK\r\n"),
        ("geoadd g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania", ":2\r\n"),
        ("geoadd g 200 10 x", "-ERR invalid longitude,latitude pair 200.000000,10.000000\r\n"),
        ("geoadd g xx nx 1 1 x", "-ERR syntax error\r\n"),
        ("geoadd g a 1 x", "-ERR value is not a valid float\r\n"),
        ("geoadd g 1 2", "-ERR wrong number of arguments for 'geoadd' command\r\n"),
        ("geoadd g ch 13.361389 38.115556 Palermo 2 3 Foo", ":1\r\n"),
        ("geoadd g xx ch 13.1 38.1 Palermo 5 5 Bar", ":1\r\n"),
        ("geoadd g nx 13.361389 38.115556 Palermo", ":0\r\n"),
        ("geopos g Palermo nope Foo", "*3\r\n*2\r\n$20\r\n13.09999734163284302\r\n$20\r\n38.10000081174143105\r\n*-1\r\n*2\r\n$19\r\n2.00000256299972534\r\n$19\r\n3.00000091215010656\r\n"),
        ("geopos nokey a b", "*2\r\n*-1\r\n*-1\r\n"),
        ("geodist g Palermo Catania", "$11\r\n186855.2504\r\n"),
        ("geodist g Palermo Catania km", "$8\r\n186.8553\r\n"),
        ("geodist g Palermo Catania mi", "$8\r\n116.1068\r\n"),
        ("geodist g Palermo Catania ft", "$11\r\n613042.1602\r\n"),
        ("geodist g Palermo Catania foo", "-ERR unsupported unit provided. please use M, KM, FT, MI\r\n"),
        ("geodist g Palermo nope", "$-1\r\n"),
        ("geodist g Palermo Catania km x", "-ERR syntax error\r\n"),
        ("geohash g Palermo Catania nope Foo", "*4\r\n$11\r\nsqc2dpghs40\r\n$11\r\nsqdtr74hyu0\r\n$-1\r\n$11\r\ns093jd0k720\r\n"),
        ("geohash nokey a", "*1\r\n$-1\r\n"),
        ("geoadd g -122.27652 37.805186 a1 -122.2674626 37.8062344 a2 -122.2469854 37.8104049 a3 -0.1278 51.5074 london 2.3522 48.8566 paris 139.6917 35.6895 tokyo 0 0 zero 179.9 85 edge -179.9 -85 edge2", ":9\r\n"),
        ("geosearch g fromlonlat 15 37 byradius 200 km asc withcoord withdist withhash", "*1\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n"),
        ("geosearch g fromlonlat 15 37 byradius 200 km desc", "*1\r\n$7\r\nCatania\r\n"),
        ("geosearch g frommember Palermo byradius 1000 km asc count 2", "*2\r\n$7\r\nPalermo\r\n$7\r\nCatania\r\n"),
        ("geosearch g frommember Palermo byradius 1000 km count 1 any", "*1\r\n$7\r\nPalermo\r\n"),
        ("geosearch g frommember nope byradius 1000 km", "-ERR could not decode requested zset member\r\n"),
        ("geosearch g fromlonlat 15 37 bybox 400 400 km asc withdist", "*2\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n*2\r\n$7\r\nPalermo\r\n$8\r\n207.4561\r\n"),
        ("geosearch g fromlonlat -122.27 37.8 bybox 3 3 km asc withdist withcoord", "*2\r\n*3\r\n$2\r\na2\r\n$6\r\n0.7285\r\n*2\r\n$21\r\n-122.2674599289894104\r\n$20\r\n37.80623423353753054\r\n*3\r\n$2\r\na1\r\n$6\r\n0.8130\r\n*2\r\n$22\r\n-122.27652043104171753\r\n$20\r\n37.80518485897756165\r\n"),
        ("geosearch g fromlonlat -122.27 37.8 byradius 2 mi desc withdist", "*3\r\n*2\r\n$2\r\na3\r\n$6\r\n1.4480\r\n*2\r\n$2\r\na1\r\n$6\r\n0.5052\r\n*2\r\n$2\r\na2\r\n$6\r\n0.4526\r\n"),
        ("geosearch g fromlonlat 0 0 byradius 20000 km desc count 3 withhash", "*3\r\n*2\r\n$5\r\ntokyo\r\n:4171231230197045\r\n*2\r\n$2\r\na1\r\n:1367952638197536\r\n*2\r\n$2\r\na2\r\n:1367952641196278\r\n"),
        ("geosearch g fromlonlat 15 37 byradius 200 km any", "-ERR the ANY argument requires COUNT argument\r\n"),
        ("geosearch g byradius 200 km", "-ERR wrong number of arguments for 'geosearch' command\r\n"),
        ("geosearch g fromlonlat 15 37", "-ERR wrong number of arguments for 'geosearch' command\r\n"),
        ("geosearch g fromlonlat 15 37 byradius -1 km", "-ERR radius cannot be negative\r\n"),
        ("geosearch g fromlonlat 15 37 byradius x km", "-ERR need numeric radius\r\n"),
        ("geosearch g fromlonlat 15 37 bybox x 1 km", "-ERR need numeric width\r\n"),
        ("geosearch g fromlonlat 15 37 bybox 1 x km", "-ERR need numeric height\r\n"),
        ("geosearch g fromlonlat 15 37 bybox -1 1 km", "-ERR height or width cannot be negative\r\n"),
        ("geosearch g fromlonlat 15 37 byradius 1 km bybox 1 1 km", "-ERR syntax error\r\n"),
        ("geosearch g fromlonlat 15 37 frommember Palermo byradius 1 km", "-ERR syntax error\r\n"),
        ("geosearch g fromlonlat 15 37 byradius 10 km count 0", "-ERR COUNT must be > 0\r\n"),
        ("geosearch g fromlonlat 15 37 byradius 10 km count x", "-ERR value is not an integer or out of range\r\n"),
        ("geosearch g fromlonlat 15 37 byradius 10 km store x", "-ERR syntax error\r\n"),
        ("geosearch nokey fromlonlat 15 37 byradius 10 km", "*0\r\n"),
        ("geosearch nokey frommember x byradius 10 km", "*0\r\n"),
        ("geosearchstore dst g fromlonlat 15 37 byradius 200 km", ":1\r\n"),
        ("zrange dst 0 -1 withscores", "*2\r\n$7\r\nCatania\r\n$16\r\n3479447370796909\r\n"),
        ("geosearchstore dst g fromlonlat 15 37 byradius 200 km storedist", ":1\r\n"),
        ("zrange dst 0 -1 withscores", "*2\r\n$7\r\nCatania\r\n$18\r\n56.441257870158204\r\n"),
        ("geosearchstore dst g fromlonlat 15 37 byradius 200 km withdist", "-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n"),
        ("geosearchstore dst g fromlonlat 15 37 byradius 1 m", ":0\r\n"),
        ("exists dst", ":0\r\n"),
        ("georadius g 15 37 200 km withdist asc", "*1\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n"),
        ("georadius g 15 37 200 km store dst2", ":1\r\n"),
        ("zrange dst2 0 -1 withscores", "*2\r\n$7\r\nCatania\r\n$16\r\n3479447370796909\r\n"),
        ("georadius g 15 37 200 km storedist dst2 asc", ":1\r\n"),
        ("zrange dst2 0 -1 withscores", "*2\r\n$7\r\nCatania\r\n$18\r\n56.441257870158204\r\n"),
        ("georadius g 15 37 200 km store dst2 withdist", "-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n"),
        ("georadius_ro g 15 37 200 km store dst2", "-ERR syntax error\r\n"),
        ("georadius_ro g 15 37 200 km withcoord asc", "*1\r\n*2\r\n$7\r\nCatania\r\n*2\r\n$20\r\n15.08726745843887329\r\n$20\r\n37.50266842333162032\r\n"),
        ("georadiusbymember g Palermo 200 km withdist asc", "*2\r\n*2\r\n$7\r\nPalermo\r\n$6\r\n0.0000\r\n*2\r\n$7\r\nCatania\r\n$8\r\n186.8553\r\n"),
        ("georadiusbymember g nope 200 km", "-ERR could not decode requested zset member\r\n"),
        ("georadiusbymember nokey nope 200 km", "*0\r\n"),
        ("georadiusbymember_ro g Palermo 200 km count 1", "*1\r\n$7\r\nPalermo\r\n"),
        ("georadius g 15 37 200 foo", "-ERR unsupported unit provided. please use M, KM, FT, MI\r\n"),
        ("georadius g 200 37 200 km", "-ERR invalid longitude,latitude pair 200.000000,37.000000\r\n"),
        ("set s v", "+OK\r\n"),
        ("geoadd s 1 1 a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("geopos s a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("georadius s 15 37 200 km", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("geosearch s fromlonlat 15 37 byradius 1 km", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, command, expected).await;
    }
}

#[tokio::test]
async fn geo_redis_replies_resp3() {
    let server = start_server().await;
    let mut s = resp3(&server).await;
    let cases: &[(&str, &str)] = &[
        ("flushall", "+OK\r\n"),
        ("geoadd g 13.361389 38.115556 Palermo 15.087269 37.502669 Catania", ":2\r\n"),
        ("geoadd g 200 10 x", "-ERR invalid longitude,latitude pair 200.000000,10.000000\r\n"),
        ("geoadd g xx nx 1 1 x", "-ERR syntax error\r\n"),
        ("geoadd g a 1 x", "-ERR value is not a valid float\r\n"),
        ("geoadd g 1 2", "-ERR wrong number of arguments for 'geoadd' command\r\n"),
        ("geoadd g ch 13.361389 38.115556 Palermo 2 3 Foo", ":1\r\n"),
        ("geoadd g xx ch 13.1 38.1 Palermo 5 5 Bar", ":1\r\n"),
        ("geoadd g nx 13.361389 38.115556 Palermo", ":0\r\n"),
        ("geopos g Palermo nope Foo", "*3\r\n*2\r\n,13.09999734163284302\r\n,38.10000081174143105\r\n_\r\n*2\r\n,2.00000256299972534\r\n,3.00000091215010656\r\n"),
        ("geopos nokey a b", "*2\r\n_\r\n_\r\n"),
        ("geodist g Palermo Catania", "$11\r\n186855.2504\r\n"),
        ("geodist g Palermo Catania km", "$8\r\n186.8553\r\n"),
        ("geodist g Palermo Catania mi", "$8\r\n116.1068\r\n"),
        ("geodist g Palermo Catania ft", "$11\r\n613042.1602\r\n"),
        ("geodist g Palermo Catania foo", "-ERR unsupported unit provided. please use M, KM, FT, MI\r\n"),
        ("geodist g Palermo nope", "_\r\n"),
        ("geodist g Palermo Catania km x", "-ERR syntax error\r\n"),
        ("geohash g Palermo Catania nope Foo", "*4\r\n$11\r\nsqc2dpghs40\r\n$11\r\nsqdtr74hyu0\r\n_\r\n$11\r\ns093jd0k720\r\n"),
        ("geohash nokey a", "*1\r\n_\r\n"),
        ("geoadd g -122.27652 37.805186 a1 -122.2674626 37.8062344 a2 -122.2469854 37.8104049 a3 -0.1278 51.5074 london 2.3522 48.8566 paris 139.6917 35.6895 tokyo 0 0 zero 179.9 85 edge -179.9 -85 edge2", ":9\r\n"),
        ("geosearch g fromlonlat 15 37 byradius 200 km asc withcoord withdist withhash", "*1\r\n*4\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n:3479447370796909\r\n*2\r\n,15.08726745843887329\r\n,37.50266842333162032\r\n"),
        ("geosearch g fromlonlat 15 37 byradius 200 km desc", "*1\r\n$7\r\nCatania\r\n"),
        ("geosearch g frommember Palermo byradius 1000 km asc count 2", "*2\r\n$7\r\nPalermo\r\n$7\r\nCatania\r\n"),
        ("geosearch g frommember Palermo byradius 1000 km count 1 any", "*1\r\n$7\r\nPalermo\r\n"),
        ("geosearch g frommember nope byradius 1000 km", "-ERR could not decode requested zset member\r\n"),
        ("geosearch g fromlonlat 15 37 bybox 400 400 km asc withdist", "*2\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n*2\r\n$7\r\nPalermo\r\n$8\r\n207.4561\r\n"),
        ("geosearch g fromlonlat -122.27 37.8 bybox 3 3 km asc withdist withcoord", "*2\r\n*3\r\n$2\r\na2\r\n$6\r\n0.7285\r\n*2\r\n,-122.2674599289894104\r\n,37.80623423353753054\r\n*3\r\n$2\r\na1\r\n$6\r\n0.8130\r\n*2\r\n,-122.27652043104171753\r\n,37.80518485897756165\r\n"),
        ("geosearch g fromlonlat -122.27 37.8 byradius 2 mi desc withdist", "*3\r\n*2\r\n$2\r\na3\r\n$6\r\n1.4480\r\n*2\r\n$2\r\na1\r\n$6\r\n0.5052\r\n*2\r\n$2\r\na2\r\n$6\r\n0.4526\r\n"),
        ("geosearch g fromlonlat 0 0 byradius 20000 km desc count 3 withhash", "*3\r\n*2\r\n$5\r\ntokyo\r\n:4171231230197045\r\n*2\r\n$2\r\na1\r\n:1367952638197536\r\n*2\r\n$2\r\na2\r\n:1367952641196278\r\n"),
        ("geosearch g fromlonlat 15 37 byradius 200 km any", "-ERR the ANY argument requires COUNT argument\r\n"),
        ("geosearch g byradius 200 km", "-ERR wrong number of arguments for 'geosearch' command\r\n"),
        ("geosearch g fromlonlat 15 37", "-ERR wrong number of arguments for 'geosearch' command\r\n"),
        ("geosearch g fromlonlat 15 37 byradius -1 km", "-ERR radius cannot be negative\r\n"),
        ("geosearch g fromlonlat 15 37 byradius x km", "-ERR need numeric radius\r\n"),
        ("geosearch g fromlonlat 15 37 bybox x 1 km", "-ERR need numeric width\r\n"),
        ("geosearch g fromlonlat 15 37 bybox 1 x km", "-ERR need numeric height\r\n"),
        ("geosearch g fromlonlat 15 37 bybox -1 1 km", "-ERR height or width cannot be negative\r\n"),
        ("geosearch g fromlonlat 15 37 byradius 1 km bybox 1 1 km", "-ERR syntax error\r\n"),
        ("geosearch g fromlonlat 15 37 frommember Palermo byradius 1 km", "-ERR syntax error\r\n"),
        ("geosearch g fromlonlat 15 37 byradius 10 km count 0", "-ERR COUNT must be > 0\r\n"),
        ("geosearch g fromlonlat 15 37 byradius 10 km count x", "-ERR value is not an integer or out of range\r\n"),
        ("geosearch g fromlonlat 15 37 byradius 10 km store x", "-ERR syntax error\r\n"),
        ("geosearch nokey fromlonlat 15 37 byradius 10 km", "*0\r\n"),
        ("geosearch nokey frommember x byradius 10 km", "*0\r\n"),
        ("geosearchstore dst g fromlonlat 15 37 byradius 200 km", ":1\r\n"),
        ("zrange dst 0 -1 withscores", "*1\r\n*2\r\n$7\r\nCatania\r\n,3479447370796909\r\n"),
        ("geosearchstore dst g fromlonlat 15 37 byradius 200 km storedist", ":1\r\n"),
        ("zrange dst 0 -1 withscores", "*1\r\n*2\r\n$7\r\nCatania\r\n,56.441257870158204\r\n"),
        ("geosearchstore dst g fromlonlat 15 37 byradius 200 km withdist", "-ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n"),
        ("geosearchstore dst g fromlonlat 15 37 byradius 1 m", ":0\r\n"),
        ("exists dst", ":0\r\n"),
        ("georadius g 15 37 200 km withdist asc", "*1\r\n*2\r\n$7\r\nCatania\r\n$7\r\n56.4413\r\n"),
        ("georadius g 15 37 200 km store dst2", ":1\r\n"),
        ("zrange dst2 0 -1 withscores", "*1\r\n*2\r\n$7\r\nCatania\r\n,3479447370796909\r\n"),
        ("georadius g 15 37 200 km storedist dst2 asc", ":1\r\n"),
        ("zrange dst2 0 -1 withscores", "*1\r\n*2\r\n$7\r\nCatania\r\n,56.441257870158204\r\n"),
        ("georadius g 15 37 200 km store dst2 withdist", "-ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options\r\n"),
        ("georadius_ro g 15 37 200 km store dst2", "-ERR syntax error\r\n"),
        ("georadius_ro g 15 37 200 km withcoord asc", "*1\r\n*2\r\n$7\r\nCatania\r\n*2\r\n,15.08726745843887329\r\n,37.50266842333162032\r\n"),
        ("georadiusbymember g Palermo 200 km withdist asc", "*2\r\n*2\r\n$7\r\nPalermo\r\n$6\r\n0.0000\r\n*2\r\n$7\r\nCatania\r\n$8\r\n186.8553\r\n"),
        ("georadiusbymember g nope 200 km", "-ERR could not decode requested zset member\r\n"),
        ("georadiusbymember nokey nope 200 km", "*0\r\n"),
        ("georadiusbymember_ro g Palermo 200 km count 1", "*1\r\n$7\r\nPalermo\r\n"),
        ("georadius g 15 37 200 foo", "-ERR unsupported unit provided. please use M, KM, FT, MI\r\n"),
        ("georadius g 200 37 200 km", "-ERR invalid longitude,latitude pair 200.000000,37.000000\r\n"),
        ("set s v", "+OK\r\n"),
        ("geoadd s 1 1 a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("geopos s a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("georadius s 15 37 200 km", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("geosearch s fromlonlat 15 37 byradius 1 km", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, command, expected).await;
    }
}

/// Without ASC/DESC, members come cell by cell (centre, N, S, E, W, NE, NW, SE, SW,
/// after the step adjustments), in score order inside a cell.
#[tokio::test]
async fn geo_search_order_follows_cells() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let cases: &[(&str, &str)] = &[
        ("flushall", "+OK\r\n"),
        ("geoadd g 2.35 48.85 c 2.35 49.1 n 2.35 48.6 s 2.7 48.85 e 2.0 48.85 w 2.6 49.05 ne 2.1 49.05 nw 2.6 48.65 se 2.1 48.65 sw 2.36 48.86 c2", ":10\r\n"),
        ("geosearch g fromlonlat 2.35 48.85 byradius 50 km", "*10\r\n$2\r\nsw\r\n$1\r\nw\r\n$2\r\nnw\r\n$1\r\ns\r\n$2\r\nse\r\n$1\r\nc\r\n$2\r\nc2\r\n$1\r\nn\r\n$1\r\ne\r\n$2\r\nne\r\n"),
        ("geosearch g fromlonlat 2.35 48.85 byradius 50 km withdist", "*10\r\n*2\r\n$2\r\nsw\r\n$7\r\n28.8269\r\n*2\r\n$1\r\nw\r\n$7\r\n25.6165\r\n*2\r\n$2\r\nnw\r\n$7\r\n28.7803\r\n*2\r\n$1\r\ns\r\n$7\r\n27.8066\r\n*2\r\n$2\r\nse\r\n$7\r\n28.8270\r\n*2\r\n$1\r\nc\r\n$6\r\n0.0001\r\n*2\r\n$2\r\nc2\r\n$6\r\n1.3315\r\n*2\r\n$1\r\nn\r\n$7\r\n27.8067\r\n*2\r\n$1\r\ne\r\n$7\r\n25.6167\r\n*2\r\n$2\r\nne\r\n$7\r\n28.7805\r\n"),
        ("georadius g 2.35 48.85 50 km", "*10\r\n$2\r\nsw\r\n$1\r\nw\r\n$2\r\nnw\r\n$1\r\ns\r\n$2\r\nse\r\n$1\r\nc\r\n$2\r\nc2\r\n$1\r\nn\r\n$1\r\ne\r\n$2\r\nne\r\n"),
        ("geosearch g fromlonlat 2.35 48.85 bybox 80 80 km", "*10\r\n$2\r\nsw\r\n$1\r\nw\r\n$2\r\nnw\r\n$1\r\ns\r\n$2\r\nse\r\n$1\r\nc\r\n$2\r\nc2\r\n$1\r\nn\r\n$1\r\ne\r\n$2\r\nne\r\n"),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, command, expected).await;
    }
}

/// `COUNT n ANY` keeps the first n members found in cell order, then sorts only those.
#[tokio::test]
async fn geo_search_count_any_stops_in_cell_order() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let cases: &[(&str, &str)] = &[
        ("flushall", "+OK\r\n"),
        ("geoadd g 2.35 48.85 c 2.35 49.1 n 2.35 48.6 s 2.7 48.85 e 2.0 48.85 w 2.6 49.05 ne 2.1 49.05 nw 2.6 48.65 se 2.1 48.65 sw 2.36 48.86 c2", ":10\r\n"),
        ("geosearch g fromlonlat 2.35 48.85 byradius 50 km count 3 any", "*3\r\n$2\r\nsw\r\n$1\r\nw\r\n$2\r\nnw\r\n"),
        ("geosearch g fromlonlat 2.35 48.85 byradius 50 km count 5 any", "*5\r\n$2\r\nsw\r\n$1\r\nw\r\n$2\r\nnw\r\n$1\r\ns\r\n$2\r\nse\r\n"),
        ("geosearch g fromlonlat 2.35 48.85 byradius 50 km count 5 any asc", "*5\r\n$1\r\nw\r\n$1\r\ns\r\n$2\r\nnw\r\n$2\r\nsw\r\n$2\r\nse\r\n"),
        ("geosearch g fromlonlat 2.35 48.85 byradius 50 km count 3 desc any", "*3\r\n$2\r\nsw\r\n$2\r\nnw\r\n$1\r\nw\r\n"),
        ("georadius g 2.35 48.85 50 km count 2 any", "*2\r\n$2\r\nsw\r\n$1\r\nw\r\n"),
        ("geosearchstore dst g fromlonlat 2.35 48.85 byradius 50 km count 2 any", ":2\r\n"),
        ("zrange dst 0 -1", "*2\r\n$2\r\nsw\r\n$1\r\nw\r\n"),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, command, expected).await;
    }
}

/// Scores outside the geohash range fall in no cell; a 20000 km radius reads the whole
/// grid, a 1 m one a single cell.
#[tokio::test]
async fn geo_search_skips_invalid_scores_and_extreme_radii() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let cases: &[(&str, &str)] = &[
        ("flushall", "+OK\r\n"),
        ("geoadd g 2.35 48.85 c 2.35 49.1 n 2.35 48.6 s 2.7 48.85 e 2.0 48.85 w 2.6 49.05 ne 2.1 49.05 nw 2.6 48.65 se 2.1 48.65 sw 2.36 48.86 c2", ":10\r\n"),
        ("zadd g -1 neg 4503599627370496 big inf inf -inf ninf 4503599627370495 last 0 zero 1.5 frac", ":7\r\n"),
        ("geosearch g fromlonlat 2.35 48.85 byradius 20000 km", "*13\r\n$2\r\nsw\r\n$1\r\nw\r\n$2\r\nnw\r\n$1\r\ns\r\n$2\r\nse\r\n$1\r\nc\r\n$2\r\nc2\r\n$1\r\nn\r\n$1\r\ne\r\n$2\r\nne\r\n$4\r\nlast\r\n$4\r\nzero\r\n$4\r\nfrac\r\n"),
        ("geosearch g fromlonlat 0 0 byradius 20000 km count 20 any", "*13\r\n$2\r\nsw\r\n$1\r\nw\r\n$2\r\nnw\r\n$1\r\ns\r\n$2\r\nse\r\n$1\r\nc\r\n$2\r\nc2\r\n$1\r\nn\r\n$1\r\ne\r\n$2\r\nne\r\n$4\r\nlast\r\n$4\r\nzero\r\n$4\r\nfrac\r\n"),
        ("geosearch g fromlonlat -180 -85 byradius 1 km withhash", "*0\r\n"),
        ("geosearch g fromlonlat 180 85 byradius 1 km withhash", "*0\r\n"),
        ("geosearch g fromlonlat 2.35 48.85 byradius 1 m", "*1\r\n$1\r\nc\r\n"),
        ("geosearch g fromlonlat 2.36 48.86 byradius 1 m withdist", "*1\r\n*2\r\n$2\r\nc2\r\n$6\r\n0.1967\r\n"),
        ("geosearch g frommember c2 byradius 1 m withcoord", "*1\r\n*2\r\n$2\r\nc2\r\n*2\r\n$19\r\n2.35999792814254761\r\n$20\r\n48.86000112614513569\r\n"),
        ("geosearch g frommember c2 byradius 0 m", "*1\r\n$2\r\nc2\r\n"),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, command, expected).await;
    }
}

/// Boxes near the poles and across ±180°, including Redis's misses when a neighbour cell
/// wraps around the grid.
#[tokio::test]
async fn geo_search_boxes_at_poles_and_antimeridian() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let cases: &[(&str, &str)] = &[
        ("flushall", "+OK\r\n"),
        ("geoadd p 0 85 a 90 85 b 180 85 c -90 85 d 45 84 e 0 84.9 f 0 -85 g 90 -84.5 h -179.5 -84.9 i", ":9\r\n"),
        ("geosearch p fromlonlat 0 85 bybox 2000 2000 km", "*5\r\n$1\r\nf\r\n$1\r\na\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\nd\r\n"),
        ("geosearch p fromlonlat 0 85 bybox 20000 500 km withdist", "*5\r\n*2\r\n$1\r\nf\r\n$7\r\n11.1226\r\n*2\r\n$1\r\na\r\n$6\r\n0.0000\r\n*2\r\n$1\r\ne\r\n$8\r\n478.7634\r\n*2\r\n$1\r\nb\r\n$8\r\n785.9890\r\n*2\r\n$1\r\nd\r\n$8\r\n785.9889\r\n"),
        ("geosearch p fromlonlat 10 84.5 bybox 6000 200 km", "*5\r\n$1\r\nf\r\n$1\r\na\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\nd\r\n"),
        ("geosearch p fromlonlat 0 -85 bybox 20000 400 km withdist", "*3\r\n*2\r\n$1\r\ng\r\n$6\r\n0.0000\r\n*2\r\n$1\r\nh\r\n$8\r\n826.1735\r\n*2\r\n$1\r\ni\r\n$9\r\n1123.3749\r\n"),
        ("geosearch p fromlonlat 180 -85 bybox 3000 3000 km asc", "*2\r\n$1\r\nh\r\n$1\r\ng\r\n"),
        ("flushall", "+OK\r\n"),
        ("geoadd m 179.9 0 a -179.9 0 b 179.5 0.2 c -179.5 -0.2 d 180 0 e -180 0 f 179.99 10 g -179.99 -10 h", ":8\r\n"),
        ("geosearch m fromlonlat 180 0 bybox 50 50 km withdist", "*2\r\n*2\r\n$1\r\ne\r\n$6\r\n0.0001\r\n*2\r\n$1\r\na\r\n$7\r\n11.1227\r\n"),
        ("geosearch m fromlonlat -180 0 bybox 100 50 km", "*3\r\n$1\r\nf\r\n$1\r\nb\r\n$1\r\na\r\n"),
        ("geosearch m fromlonlat 179.95 0 bybox 200 200 km asc withdist", "*5\r\n*2\r\n$1\r\na\r\n$6\r\n5.5614\r\n*2\r\n$1\r\nf\r\n$6\r\n5.5616\r\n*2\r\n$1\r\nb\r\n$7\r\n16.6840\r\n*2\r\n$1\r\nc\r\n$7\r\n54.7724\r\n*2\r\n$1\r\nd\r\n$7\r\n65.0933\r\n"),
        ("geosearch m fromlonlat -179.95 0 bybox 200 200 km", "*5\r\n$1\r\nf\r\n$1\r\nb\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\na\r\n"),
        ("geosearch m fromlonlat 179.95 0 bybox 100 3000 km desc", "*5\r\n$1\r\nh\r\n$1\r\ng\r\n$1\r\nb\r\n$1\r\nf\r\n$1\r\na\r\n"),
        ("geosearch m fromlonlat 180 0 byradius 100 km withcoord", "*3\r\n*2\r\n$1\r\ne\r\n*2\r\n$3\r\n180\r\n$19\r\n0.00000126736058093\r\n*2\r\n$1\r\nc\r\n*2\r\n$21\r\n179.50000137090682983\r\n$19\r\n0.20000090571705442\r\n*2\r\n$1\r\na\r\n*2\r\n$21\r\n179.89999920129776001\r\n$19\r\n0.00000126736058093\r\n"),
        ("geosearch m fromlonlat -180 0 byradius 100 km withcoord", "*5\r\n*2\r\n$1\r\nf\r\n*2\r\n$22\r\n-179.99999731779098511\r\n$19\r\n0.00000126736058093\r\n*2\r\n$1\r\nb\r\n*2\r\n$22\r\n-179.89999920129776001\r\n$19\r\n0.00000126736058093\r\n*2\r\n$1\r\nd\r\n*2\r\n$22\r\n-179.50000137090682983\r\n$20\r\n-0.20000090571705442\r\n*2\r\n$1\r\nc\r\n*2\r\n$21\r\n179.50000137090682983\r\n$19\r\n0.20000090571705442\r\n*2\r\n$1\r\na\r\n*2\r\n$21\r\n179.89999920129776001\r\n$19\r\n0.00000126736058093\r\n"),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, command, expected).await;
    }
}

/// COUNT below the number of results sorts partially, as Redis's `pqsort`: equal
/// distances come out in its order, not in search order.
#[tokio::test]
async fn geo_search_partial_sort_keeps_redis_tie_order() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let cases: &[(&str, &str)] = &[
        ("flushall", "+OK\r\n"),
        ("geoadd t 10 10 a 10 10 b 10 10 c 10 10 d 10 10 e 10 10 f 10 10 g 10 10 h 10.1 10 i 10.1 10 j 10.2 10 k", ":11\r\n"),
        ("geosearch t fromlonlat 10 10 byradius 100 km count 9 desc", "*9\r\n$1\r\nk\r\n$1\r\ni\r\n$1\r\nj\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\na\r\n$1\r\ng\r\n$1\r\nh\r\n$1\r\nf\r\n"),
        ("geosearch t fromlonlat 10.1 10 byradius 100 km count 5 asc", "*5\r\n$1\r\ni\r\n$1\r\nj\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n"),
        ("geosearch t fromlonlat 10.1 10 byradius 100 km asc", "*11\r\n$1\r\ni\r\n$1\r\nj\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n$1\r\ng\r\n$1\r\nh\r\n$1\r\nk\r\n"),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, command, expected).await;
    }
}

/// RESP3 replies of the ±180° searches (a position stored at longitude 180 has a hash
/// beyond 2^52 and is found from a centre on that edge, as in Redis).
#[tokio::test]
async fn geo_search_antimeridian_resp3() {
    let server = start_server().await;
    let mut s = resp3(&server).await;
    let cases: &[(&str, &str)] = &[
        ("flushall", "+OK\r\n"),
        ("geoadd m 179.9 0 a -179.9 0 b 179.5 0.2 c -179.5 -0.2 d 180 0 e -180 0 f", ":6\r\n"),
        ("zadd m -1 neg 4503599627370496 big inf inf", ":3\r\n"),
        ("geosearch m fromlonlat 180 0 byradius 100 km withcoord withdist withhash", "*3\r\n*4\r\n$1\r\ne\r\n$6\r\n0.0001\r\n:10133099161583616\r\n*2\r\n,180\r\n,0.00000126736058093\r\n*4\r\n$1\r\nc\r\n$7\r\n59.8970\r\n:4128294766816706\r\n*2\r\n,179.50000137090682983\r\n,0.20000090571705442\r\n*4\r\n$1\r\na\r\n$7\r\n11.1227\r\n:4128299113121960\r\n*2\r\n,179.89999920129776001\r\n,0.00000126736058093\r\n"),
        ("geosearch m fromlonlat -179.95 0 bybox 200 200 km count 2 any withcoord", "*2\r\n*2\r\n$1\r\nf\r\n*2\r\n,-179.99999731779098511\r\n,0.00000126736058093\r\n*2\r\n$1\r\nb\r\n*2\r\n,-179.89999920129776001\r\n,0.00000126736058093\r\n"),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, command, expected).await;
    }
}

/// Distances are rounded as Redis rounds them (`d * 10000` to the nearest integer), which
/// can differ in the last digit from formatting `d` with four decimals.
#[tokio::test]
async fn geo_distance_rounds_as_redis() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let cases: &[(&str, &str)] = &[
        ("flushall", "+OK\r\n"),
        ("zadd x 2104887826009409 p4 2554274522600887 p6", ":2\r\n"),
        ("geodist x p4 p6 ft", "$13\r\n40025732.8736\r\n"),
        ("geodist x p4 p6", "$13\r\n12199843.3799\r\n"),
        (
            "geosearch x frommember p4 byradius 40000000 ft withdist",
            "*1\r\n*2\r\n$2\r\np4\r\n$6\r\n0.0000\r\n",
        ),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, command, expected).await;
    }
}
