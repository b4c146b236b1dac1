//! Sorted set command tests. The table-driven cases hold the exact bytes redis-server 7.0.15
//! replied to the same commands (recorded side by side); ZRANK/ZREVRANK WITHSCORE follow 7.2.
use std::collections::HashSet;

use crate::string::{must_reply, resp3};
use crate::util::*;

#[tokio::test]
async fn redis_replies_resp2_basics() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let cases: &[(&str, &str)] = &[
        ("flushall", "+OK\r\n"),
        ("zadd z 1 a 2 b 3 c 4 d", ":4\r\n"),
        ("zadd z nx xx 1 a", "-ERR XX and NX options at the same time are not compatible\r\n"),
        ("zadd z gt nx 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n"),
        ("zadd z incr 1 a 2 b", "-ERR INCR option supports a single increment-element pair\r\n"),
        ("zadd z x a", "-ERR value is not a valid float\r\n"),
        ("zadd z 1 a 2", "-ERR syntax error\r\n"),
        ("zadd z xx 5 newm", ":0\r\n"),
        ("zadd z nx 10 a 5 e", ":1\r\n"),
        ("zadd z ch gt 0 a 20 b", ":1\r\n"),
        ("zadd z incr lt 100 a", "$-1\r\n"),
        ("zadd z incr 1.5 a", "$3\r\n2.5\r\n"),
        ("zincrby z x a", "-ERR value is not a valid float\r\n"),
        ("zincrby z inf a", "$3\r\ninf\r\n"),
        ("zincrby z -inf a", "-ERR resulting score is not a number (NaN)\r\n"),
        ("zadd z 1.1 f 0.1 g -0 h", ":3\r\n"),
        ("zrange z 0 -1 withscores", "*16\r\n$1\r\nh\r\n$1\r\n0\r\n$1\r\ng\r\n$19\r\n0.10000000000000001\r\n$1\r\nf\r\n$18\r\n1.1000000000000001\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\ne\r\n$1\r\n5\r\n$1\r\nb\r\n$2\r\n20\r\n$1\r\na\r\n$3\r\ninf\r\n"),
        ("zscore z f", "$18\r\n1.1000000000000001\r\n"),
        ("zscore z nope", "$-1\r\n"),
        ("zmscore z f nope g", "*3\r\n$18\r\n1.1000000000000001\r\n$-1\r\n$19\r\n0.10000000000000001\r\n"),
        ("zrank z f", ":2\r\n"),
        ("zrevrank z f", ":5\r\n"),
        ("zrank z nope", "$-1\r\n"),
        ("zcard z", ":8\r\n"),
        ("zcard nokey", ":0\r\n"),
        ("zcount z -inf +inf", ":8\r\n"),
        ("zcount z (1 3", ":2\r\n"),
        ("zcount z x 3", "-ERR min or max is not a float\r\n"),
        ("zlexcount z - +", ":8\r\n"),
        ("zlexcount z [a (c", ":0\r\n"),
        ("zrangebyscore z -inf +inf LIMIT -1 2", "*0\r\n"),
        ("zrangebyscore z -inf +inf LIMIT 1 -5", "*7\r\n$1\r\ng\r\n$1\r\nf\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\na\r\n"),
        ("zrange z 0 -1 limit 0 -1", "*8\r\n$1\r\nh\r\n$1\r\ng\r\n$1\r\nf\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\na\r\n"),
        ("zrange z 0 -1 limit 0 1", "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n"),
        ("zrange z 0 -1 withscores bylex", "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n"),
        ("zrange z 0 -1 rev rev", "-ERR syntax error\r\n"),
        ("zrangebyscore z 1 2 rev", "-ERR syntax error\r\n"),
        ("zrange z 0 -1 byscore bylex", "-ERR syntax error\r\n"),
        ("zrange z x y", "-ERR value is not an integer or out of range\r\n"),
        ("zrange z x y byscore", "-ERR min or max is not a float\r\n"),
        ("zrange nokey 0 1", "*0\r\n"),
        ("zrange z 0 1 limit x 1", "-ERR value is not an integer or out of range\r\n"),
        ("zrangestore d z 0 -1 withscores", "-ERR syntax error\r\n"),
        ("zrangestore d z 1 2", ":2\r\n"),
        ("zrange d 0 -1 withscores", "*4\r\n$1\r\ng\r\n$19\r\n0.10000000000000001\r\n$1\r\nf\r\n$18\r\n1.1000000000000001\r\n"),
        ("zrangestore d z 5 1", ":0\r\n"),
        ("exists d", ":0\r\n"),
        ("zrange z (1 3 byscore limit 1 1 withscores", "*2\r\n$1\r\nc\r\n$1\r\n3\r\n"),
        ("zrevrangebyscore z 3 1", "*2\r\n$1\r\nc\r\n$1\r\nf\r\n"),
        ("zrevrangebyscore z 1 3 withscores", "*0\r\n"),
        ("zrange z 3 1 byscore rev", "*2\r\n$1\r\nc\r\n$1\r\nf\r\n"),
        ("zrevrangebylex z + -", "*8\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nf\r\n$1\r\ng\r\n$1\r\nh\r\n"),
        ("zrangebylex z - + limit 1 2", "*2\r\n$1\r\ng\r\n$1\r\nf\r\n"),
        ("zrangebylex z a b", "-ERR min or max not valid string range item\r\n"),
        ("zrangebyscore z ( 3", "*3\r\n$1\r\ng\r\n$1\r\nf\r\n$1\r\nc\r\n"),
        ("zrevrange z 0 2 withscores", "*6\r\n$1\r\na\r\n$3\r\ninf\r\n$1\r\nb\r\n$2\r\n20\r\n$1\r\ne\r\n$1\r\n5\r\n"),
        ("zrevrange z -2 -1", "*2\r\n$1\r\ng\r\n$1\r\nh\r\n"),
        ("zrange z -100 100", "*8\r\n$1\r\nh\r\n$1\r\ng\r\n$1\r\nf\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\na\r\n"),
        ("zrem z a nope", ":1\r\n"),
        ("zrem nokey a", ":0\r\n"),
        ("zremrangebyrank z 0 0", ":1\r\n"),
        ("zremrangebyscore z (1 2", ":1\r\n"),
        ("zremrangebylex z - (c", ":0\r\n"),
        ("zrange z 0 -1 withscores", "*10\r\n$1\r\ng\r\n$19\r\n0.10000000000000001\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n$1\r\ne\r\n$1\r\n5\r\n$1\r\nb\r\n$2\r\n20\r\n"),
        ("zpopmin z 0", "*0\r\n"),
        ("zpopmin z -1", "-ERR value is out of range, must be positive\r\n"),
        ("zpopmin z x", "-ERR value is out of range, must be positive\r\n"),
        ("zpopmin z", "*2\r\n$1\r\ng\r\n$19\r\n0.10000000000000001\r\n"),
        ("zpopmax z 2", "*4\r\n$1\r\nb\r\n$2\r\n20\r\n$1\r\ne\r\n$1\r\n5\r\n"),
        ("zpopmin z 1 2", "-ERR syntax error\r\n"),
        ("set s v", "+OK\r\n"),
        ("zadd s 1 a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zrange s 0 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zpopmin s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zscan z 0", "*2\r\n$1\r\n0\r\n*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n"),
        ("zscan z x", "-ERR invalid cursor\r\n"),
        ("zrandmember z x", "-ERR value is not an integer or out of range\r\n"),
        ("zrandmember z 1 foo", "-ERR syntax error\r\n"),
        ("zrandmember z -9223372036854775807 withscores", "-ERR value is out of range\r\n"),
        ("zrandmember z -9223372036854775808", "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"),
        ("zrandmember nokey", "$-1\r\n"),
        ("zrandmember nokey 5", "*0\r\n"),
        ("zmpop 0 z min", "-ERR numkeys should be greater than 0\r\n"),
        ("zmpop x z min", "-ERR numkeys should be greater than 0\r\n"),
        ("zmpop 5 z min", "-ERR syntax error\r\n"),
        ("zmpop 1 z foo", "-ERR syntax error\r\n"),
        ("zmpop 1 z min count 0", "-ERR count should be greater than 0\r\n"),
        ("zmpop 1 z min count 1 count 1", "-ERR syntax error\r\n"),
        ("zmpop 2 nokey z max count 100", "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nd\r\n$1\r\n4\r\n*2\r\n$1\r\nc\r\n$1\r\n3\r\n"),
        ("zmpop 1 nokey min", "*-1\r\n"),
        ("exists z", ":0\r\n"),
        ("bzpopmin s 0", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("bzpopmin nokey x", "-ERR timeout is not a float or out of range\r\n"),
        ("bzpopmin nokey -1", "-ERR timeout is negative\r\n"),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, command, expected).await;
    }
}

#[tokio::test]
async fn redis_replies_resp3_basics() {
    let server = start_server().await;
    let mut s = resp3(&server).await;
    let cases: &[(&str, &str)] = &[
        ("flushall", "+OK\r\n"),
        ("zadd z 1 a 2 b 3 c 4 d", ":4\r\n"),
        ("zadd z nx xx 1 a", "-ERR XX and NX options at the same time are not compatible\r\n"),
        ("zadd z gt nx 1 a", "-ERR GT, LT, and/or NX options at the same time are not compatible\r\n"),
        ("zadd z incr 1 a 2 b", "-ERR INCR option supports a single increment-element pair\r\n"),
        ("zadd z x a", "-ERR value is not a valid float\r\n"),
        ("zadd z 1 a 2", "-ERR syntax error\r\n"),
        ("zadd z xx 5 newm", ":0\r\n"),
        ("zadd z nx 10 a 5 e", ":1\r\n"),
        ("zadd z ch gt 0 a 20 b", ":1\r\n"),
        ("zadd z incr lt 100 a", "_\r\n"),
        ("zadd z incr 1.5 a", ",2.5\r\n"),
        ("zincrby z x a", "-ERR value is not a valid float\r\n"),
        ("zincrby z inf a", ",inf\r\n"),
        ("zincrby z -inf a", "-ERR resulting score is not a number (NaN)\r\n"),
        ("zadd z 1.1 f 0.1 g -0 h", ":3\r\n"),
        ("zrange z 0 -1 withscores", "*8\r\n*2\r\n$1\r\nh\r\n,0\r\n*2\r\n$1\r\ng\r\n,0.10000000000000001\r\n*2\r\n$1\r\nf\r\n,1.1000000000000001\r\n*2\r\n$1\r\nc\r\n,3\r\n*2\r\n$1\r\nd\r\n,4\r\n*2\r\n$1\r\ne\r\n,5\r\n*2\r\n$1\r\nb\r\n,20\r\n*2\r\n$1\r\na\r\n,inf\r\n"),
        ("zscore z f", ",1.1000000000000001\r\n"),
        ("zscore z nope", "_\r\n"),
        ("zmscore z f nope g", "*3\r\n,1.1000000000000001\r\n_\r\n,0.10000000000000001\r\n"),
        ("zrank z f", ":2\r\n"),
        ("zrevrank z f", ":5\r\n"),
        ("zrank z nope", "_\r\n"),
        ("zcard z", ":8\r\n"),
        ("zcard nokey", ":0\r\n"),
        ("zcount z -inf +inf", ":8\r\n"),
        ("zcount z (1 3", ":2\r\n"),
        ("zcount z x 3", "-ERR min or max is not a float\r\n"),
        ("zlexcount z - +", ":8\r\n"),
        ("zlexcount z [a (c", ":0\r\n"),
        ("zrangebyscore z -inf +inf LIMIT -1 2", "*0\r\n"),
        ("zrangebyscore z -inf +inf LIMIT 1 -5", "*7\r\n$1\r\ng\r\n$1\r\nf\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\na\r\n"),
        ("zrange z 0 -1 limit 0 -1", "*8\r\n$1\r\nh\r\n$1\r\ng\r\n$1\r\nf\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\na\r\n"),
        ("zrange z 0 -1 limit 0 1", "-ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX\r\n"),
        ("zrange z 0 -1 withscores bylex", "-ERR syntax error, WITHSCORES not supported in combination with BYLEX\r\n"),
        ("zrange z 0 -1 rev rev", "-ERR syntax error\r\n"),
        ("zrangebyscore z 1 2 rev", "-ERR syntax error\r\n"),
        ("zrange z 0 -1 byscore bylex", "-ERR syntax error\r\n"),
        ("zrange z x y", "-ERR value is not an integer or out of range\r\n"),
        ("zrange z x y byscore", "-ERR min or max is not a float\r\n"),
        ("zrange nokey 0 1", "*0\r\n"),
        ("zrange z 0 1 limit x 1", "-ERR value is not an integer or out of range\r\n"),
        ("zrangestore d z 0 -1 withscores", "-ERR syntax error\r\n"),
        ("zrangestore d z 1 2", ":2\r\n"),
        ("zrange d 0 -1 withscores", "*2\r\n*2\r\n$1\r\ng\r\n,0.10000000000000001\r\n*2\r\n$1\r\nf\r\n,1.1000000000000001\r\n"),
        ("zrangestore d z 5 1", ":0\r\n"),
        ("exists d", ":0\r\n"),
        ("zrange z (1 3 byscore limit 1 1 withscores", "*1\r\n*2\r\n$1\r\nc\r\n,3\r\n"),
        ("zrevrangebyscore z 3 1", "*2\r\n$1\r\nc\r\n$1\r\nf\r\n"),
        ("zrevrangebyscore z 1 3 withscores", "*0\r\n"),
        ("zrange z 3 1 byscore rev", "*2\r\n$1\r\nc\r\n$1\r\nf\r\n"),
        ("zrevrangebylex z + -", "*8\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\ne\r\n$1\r\nd\r\n$1\r\nc\r\n$1\r\nf\r\n$1\r\ng\r\n$1\r\nh\r\n"),
        ("zrangebylex z - + limit 1 2", "*2\r\n$1\r\ng\r\n$1\r\nf\r\n"),
        ("zrangebylex z a b", "-ERR min or max not valid string range item\r\n"),
        ("zrangebyscore z ( 3", "*3\r\n$1\r\ng\r\n$1\r\nf\r\n$1\r\nc\r\n"),
        ("zrevrange z 0 2 withscores", "*3\r\n*2\r\n$1\r\na\r\n,inf\r\n*2\r\n$1\r\nb\r\n,20\r\n*2\r\n$1\r\ne\r\n,5\r\n"),
        ("zrevrange z -2 -1", "*2\r\n$1\r\ng\r\n$1\r\nh\r\n"),
        ("zrange z -100 100", "*8\r\n$1\r\nh\r\n$1\r\ng\r\n$1\r\nf\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nb\r\n$1\r\na\r\n"),
        ("zrem z a nope", ":1\r\n"),
        ("zrem nokey a", ":0\r\n"),
        ("zremrangebyrank z 0 0", ":1\r\n"),
        ("zremrangebyscore z (1 2", ":1\r\n"),
        ("zremrangebylex z - (c", ":0\r\n"),
        ("zrange z 0 -1 withscores", "*5\r\n*2\r\n$1\r\ng\r\n,0.10000000000000001\r\n*2\r\n$1\r\nc\r\n,3\r\n*2\r\n$1\r\nd\r\n,4\r\n*2\r\n$1\r\ne\r\n,5\r\n*2\r\n$1\r\nb\r\n,20\r\n"),
        ("zpopmin z 0", "*0\r\n"),
        ("zpopmin z -1", "-ERR value is out of range, must be positive\r\n"),
        ("zpopmin z x", "-ERR value is out of range, must be positive\r\n"),
        ("zpopmin z", "*2\r\n$1\r\ng\r\n,0.10000000000000001\r\n"),
        ("zpopmax z 2", "*2\r\n*2\r\n$1\r\nb\r\n,20\r\n*2\r\n$1\r\ne\r\n,5\r\n"),
        ("zpopmin z 1 2", "-ERR syntax error\r\n"),
        ("set s v", "+OK\r\n"),
        ("zadd s 1 a", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zrange s 0 1", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zpopmin s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zscan z 0", "*2\r\n$1\r\n0\r\n*4\r\n$1\r\nc\r\n$1\r\n3\r\n$1\r\nd\r\n$1\r\n4\r\n"),
        ("zscan z x", "-ERR invalid cursor\r\n"),
        ("zrandmember z x", "-ERR value is not an integer or out of range\r\n"),
        ("zrandmember z 1 foo", "-ERR syntax error\r\n"),
        ("zrandmember z -9223372036854775807 withscores", "-ERR value is out of range\r\n"),
        ("zrandmember z -9223372036854775808", "-ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807\r\n"),
        ("zrandmember nokey", "_\r\n"),
        ("zrandmember nokey 5", "*0\r\n"),
        ("zmpop 0 z min", "-ERR numkeys should be greater than 0\r\n"),
        ("zmpop x z min", "-ERR numkeys should be greater than 0\r\n"),
        ("zmpop 5 z min", "-ERR syntax error\r\n"),
        ("zmpop 1 z foo", "-ERR syntax error\r\n"),
        ("zmpop 1 z min count 0", "-ERR count should be greater than 0\r\n"),
        ("zmpop 1 z min count 1 count 1", "-ERR syntax error\r\n"),
        ("zmpop 2 nokey z max count 100", "*2\r\n$1\r\nz\r\n*2\r\n*2\r\n$1\r\nd\r\n,4\r\n*2\r\n$1\r\nc\r\n,3\r\n"),
        ("zmpop 1 nokey min", "_\r\n"),
        ("exists z", ":0\r\n"),
        ("bzpopmin s 0", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("bzpopmin nokey x", "-ERR timeout is not a float or out of range\r\n"),
        ("bzpopmin nokey -1", "-ERR timeout is negative\r\n"),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, command, expected).await;
    }
}

#[tokio::test]
async fn redis_replies_resp2_algebra_and_encodings() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let cases: &[(&str, &str)] = &[
        ("flushall", "+OK\r\n"),
        ("zadd a 1 x 2 y 3 z", ":3\r\n"),
        ("zadd b 10 y 20 z 30 w", ":3\r\n"),
        ("set s v", "+OK\r\n"),
        ("zunion 0 a", "-ERR at least 1 input key is needed for 'zunion' command\r\n"),
        ("zunionstore d 0 a", "-ERR at least 1 input key is needed for 'zunionstore' command\r\n"),
        ("zinter 2 a", "-ERR syntax error\r\n"),
        ("zunion 2 a b weights 1", "-ERR syntax error\r\n"),
        ("zunion 1 a weights x", "-ERR weight value is not a float\r\n"),
        ("zunion 1 a aggregate foo", "-ERR syntax error\r\n"),
        ("zdiff 1 a weights 1", "-ERR syntax error\r\n"),
        ("zintercard 0 a", "-ERR at least 1 input key is needed for 'zintercard' command\r\n"),
        ("zintercard 1 a limit -1", "-ERR LIMIT can't be negative\r\n"),
        ("zintercard 1 a limit x", "-ERR LIMIT can't be negative\r\n"),
        ("zunion 2 a s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zunion 2 a s weights x", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zunion 2 a b withscores", "*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n23\r\n$1\r\nw\r\n$2\r\n30\r\n"),
        ("zunion 2 a b weights 2 0.5 aggregate max withscores", "*8\r\n$1\r\nx\r\n$1\r\n2\r\n$1\r\ny\r\n$1\r\n5\r\n$1\r\nz\r\n$2\r\n10\r\n$1\r\nw\r\n$2\r\n15\r\n"),
        ("zunion 2 a b aggregate min withscores", "*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$1\r\n2\r\n$1\r\nz\r\n$1\r\n3\r\n$1\r\nw\r\n$2\r\n30\r\n"),
        ("zinter 2 a b withscores", "*4\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n23\r\n"),
        ("zinter 2 a nokey withscores", "*0\r\n"),
        ("zinter 2 a b weights 1 -1 withscores", "*4\r\n$1\r\nz\r\n$3\r\n-17\r\n$1\r\ny\r\n$2\r\n-8\r\n"),
        ("zdiff 2 a b withscores", "*2\r\n$1\r\nx\r\n$1\r\n1\r\n"),
        ("zdiff 2 nokey b", "*0\r\n"),
        ("zunionstore d 2 a b", ":4\r\n"),
        ("zrange d 0 -1 withscores", "*8\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\ny\r\n$2\r\n12\r\n$1\r\nz\r\n$2\r\n23\r\n$1\r\nw\r\n$2\r\n30\r\n"),
        ("object encoding d", "$8\r\nlistpack\r\n"),
        ("zinterstore d 2 a b aggregate max", ":2\r\n"),
        ("zrange d 0 -1 withscores", "*4\r\n$1\r\ny\r\n$2\r\n10\r\n$1\r\nz\r\n$2\r\n20\r\n"),
        ("zdiffstore d 2 a b", ":1\r\n"),
        ("zrange d 0 -1 withscores", "*2\r\n$1\r\nx\r\n$1\r\n1\r\n"),
        ("zdiffstore d 2 a a", ":0\r\n"),
        ("exists d", ":0\r\n"),
        ("zintercard 2 a b", ":2\r\n"),
        ("zintercard 2 a b limit 1", ":1\r\n"),
        ("zintercard 2 a b limit 0", ":2\r\n"),
        ("zunionstore d 2 a b withscores", "-ERR syntax error\r\n"),
        ("zadd inf 1 a", ":1\r\n"),
        ("zadd inf2 inf a", ":1\r\n"),
        ("zunion 2 inf2 inf2 weights 1 -1 withscores", "*2\r\n$1\r\na\r\n$1\r\n0\r\n"),
        ("zunion 2 inf2 inf2 weights 0 1 withscores", "*2\r\n$1\r\na\r\n$3\r\ninf\r\n"),
        ("zinter 2 inf2 inf2 weights 1 -1 withscores", "*2\r\n$1\r\na\r\n$1\r\n0\r\n"),
        ("bzmpop x 0 z min", "-ERR numkeys should be greater than 0\r\n"),
        ("bzmpop 0 0 z min", "-ERR numkeys should be greater than 0\r\n"),
        ("bzmpop -1 1 z min", "-ERR timeout is negative\r\n"),
        ("bzmpop 0 1 a max count 2", "*2\r\n$1\r\na\r\n*2\r\n*2\r\n$1\r\nz\r\n$1\r\n3\r\n*2\r\n$1\r\ny\r\n$1\r\n2\r\n"),
        ("bzpopmax a b 0", "*3\r\n$1\r\na\r\n$1\r\nx\r\n$1\r\n1\r\n"),
        ("zscan a 0 match x*", "*2\r\n$1\r\n0\r\n*0\r\n"),
        ("zscan a 0 count 0", "*2\r\n$1\r\n0\r\n*0\r\n"),
        ("zscan nokey 0 count 0", "*2\r\n$1\r\n0\r\n*0\r\n"),
        ("zadd big 1.5 a 2.5 b", ":2\r\n"),
        ("zscore big a", "$3\r\n1.5\r\n"),
        ("config set zset-max-listpack-entries 2", "+OK\r\n"),
        ("zadd c 1 a 2 b", ":2\r\n"),
        ("object encoding c", "$8\r\nlistpack\r\n"),
        ("zadd c 3 c", ":1\r\n"),
        ("object encoding c", "$8\r\nskiplist\r\n"),
        ("zrem c a b", ":2\r\n"),
        ("object encoding c", "$8\r\nskiplist\r\n"),
        ("zrangestore e c 0 -1", ":1\r\n"),
        ("object encoding e", "$8\r\nlistpack\r\n"),
        ("zunionstore e 2 a b", ":3\r\n"),
        ("object encoding e", "$8\r\nskiplist\r\n"),
        ("config set zset-max-listpack-entries 128", "+OK\r\n"),
        ("config set zset-max-listpack-value 3", "+OK\r\n"),
        ("zadd f 1 abcd", ":1\r\n"),
        ("object encoding f", "$8\r\nskiplist\r\n"),
        ("zadd g 1 abc", ":1\r\n"),
        ("object encoding g", "$8\r\nlistpack\r\n"),
        ("zincrby g 1 abcde", "$1\r\n1\r\n"),
        ("object encoding g", "$8\r\nskiplist\r\n"),
        ("config set zset-max-listpack-value 64", "+OK\r\n"),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, command, expected).await;
    }
}

#[tokio::test]
async fn redis_replies_resp3_algebra_and_encodings() {
    let server = start_server().await;
    let mut s = resp3(&server).await;
    let cases: &[(&str, &str)] = &[
        ("flushall", "+OK\r\n"),
        ("zadd a 1 x 2 y 3 z", ":3\r\n"),
        ("zadd b 10 y 20 z 30 w", ":3\r\n"),
        ("set s v", "+OK\r\n"),
        ("zunion 0 a", "-ERR at least 1 input key is needed for 'zunion' command\r\n"),
        ("zunionstore d 0 a", "-ERR at least 1 input key is needed for 'zunionstore' command\r\n"),
        ("zinter 2 a", "-ERR syntax error\r\n"),
        ("zunion 2 a b weights 1", "-ERR syntax error\r\n"),
        ("zunion 1 a weights x", "-ERR weight value is not a float\r\n"),
        ("zunion 1 a aggregate foo", "-ERR syntax error\r\n"),
        ("zdiff 1 a weights 1", "-ERR syntax error\r\n"),
        ("zintercard 0 a", "-ERR at least 1 input key is needed for 'zintercard' command\r\n"),
        ("zintercard 1 a limit -1", "-ERR LIMIT can't be negative\r\n"),
        ("zintercard 1 a limit x", "-ERR LIMIT can't be negative\r\n"),
        ("zunion 2 a s", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zunion 2 a s weights x", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
        ("zunion 2 a b withscores", "*4\r\n*2\r\n$1\r\nx\r\n,1\r\n*2\r\n$1\r\ny\r\n,12\r\n*2\r\n$1\r\nz\r\n,23\r\n*2\r\n$1\r\nw\r\n,30\r\n"),
        ("zunion 2 a b weights 2 0.5 aggregate max withscores", "*4\r\n*2\r\n$1\r\nx\r\n,2\r\n*2\r\n$1\r\ny\r\n,5\r\n*2\r\n$1\r\nz\r\n,10\r\n*2\r\n$1\r\nw\r\n,15\r\n"),
        ("zunion 2 a b aggregate min withscores", "*4\r\n*2\r\n$1\r\nx\r\n,1\r\n*2\r\n$1\r\ny\r\n,2\r\n*2\r\n$1\r\nz\r\n,3\r\n*2\r\n$1\r\nw\r\n,30\r\n"),
        ("zinter 2 a b withscores", "*2\r\n*2\r\n$1\r\ny\r\n,12\r\n*2\r\n$1\r\nz\r\n,23\r\n"),
        ("zinter 2 a nokey withscores", "*0\r\n"),
        ("zinter 2 a b weights 1 -1 withscores", "*2\r\n*2\r\n$1\r\nz\r\n,-17\r\n*2\r\n$1\r\ny\r\n,-8\r\n"),
        ("zdiff 2 a b withscores", "*1\r\n*2\r\n$1\r\nx\r\n,1\r\n"),
        ("zdiff 2 nokey b", "*0\r\n"),
        ("zunionstore d 2 a b", ":4\r\n"),
        ("zrange d 0 -1 withscores", "*4\r\n*2\r\n$1\r\nx\r\n,1\r\n*2\r\n$1\r\ny\r\n,12\r\n*2\r\n$1\r\nz\r\n,23\r\n*2\r\n$1\r\nw\r\n,30\r\n"),
        ("object encoding d", "$8\r\nlistpack\r\n"),
        ("zinterstore d 2 a b aggregate max", ":2\r\n"),
        ("zrange d 0 -1 withscores", "*2\r\n*2\r\n$1\r\ny\r\n,10\r\n*2\r\n$1\r\nz\r\n,20\r\n"),
        ("zdiffstore d 2 a b", ":1\r\n"),
        ("zrange d 0 -1 withscores", "*1\r\n*2\r\n$1\r\nx\r\n,1\r\n"),
        ("zdiffstore d 2 a a", ":0\r\n"),
        ("exists d", ":0\r\n"),
        ("zintercard 2 a b", ":2\r\n"),
        ("zintercard 2 a b limit 1", ":1\r\n"),
        ("zintercard 2 a b limit 0", ":2\r\n"),
        ("zunionstore d 2 a b withscores", "-ERR syntax error\r\n"),
        ("zadd inf 1 a", ":1\r\n"),
        ("zadd inf2 inf a", ":1\r\n"),
        ("zunion 2 inf2 inf2 weights 1 -1 withscores", "*1\r\n*2\r\n$1\r\na\r\n,0\r\n"),
        ("zunion 2 inf2 inf2 weights 0 1 withscores", "*1\r\n*2\r\n$1\r\na\r\n,inf\r\n"),
        ("zinter 2 inf2 inf2 weights 1 -1 withscores", "*1\r\n*2\r\n$1\r\na\r\n,0\r\n"),
        ("bzmpop x 0 z min", "-ERR numkeys should be greater than 0\r\n"),
        ("bzmpop 0 0 z min", "-ERR numkeys should be greater than 0\r\n"),
        ("bzmpop -1 1 z min", "-ERR timeout is negative\r\n"),
        ("bzmpop 0 1 a max count 2", "*2\r\n$1\r\na\r\n*2\r\n*2\r\n$1\r\nz\r\n,3\r\n*2\r\n$1\r\ny\r\n,2\r\n"),
        ("bzpopmax a b 0", "*3\r\n$1\r\na\r\n$1\r\nx\r\n,1\r\n"),
        ("zscan a 0 match x*", "*2\r\n$1\r\n0\r\n*0\r\n"),
        ("zscan a 0 count 0", "*2\r\n$1\r\n0\r\n*0\r\n"),
        ("zscan nokey 0 count 0", "*2\r\n$1\r\n0\r\n*0\r\n"),
        ("zadd big 1.5 a 2.5 b", ":2\r\n"),
        ("zscore big a", ",1.5\r\n"),
        ("config set zset-max-listpack-entries 2", "+OK\r\n"),
        ("zadd c 1 a 2 b", ":2\r\n"),
        ("object encoding c", "$8\r\nlistpack\r\n"),
        ("zadd c 3 c", ":1\r\n"),
        ("object encoding c", "$8\r\nskiplist\r\n"),
        ("zrem c a b", ":2\r\n"),
        ("object encoding c", "$8\r\nskiplist\r\n"),
        ("zrangestore e c 0 -1", ":1\r\n"),
        ("object encoding e", "$8\r\nlistpack\r\n"),
        ("zunionstore e 2 a b", ":3\r\n"),
        ("object encoding e", "$8\r\nskiplist\r\n"),
        ("config set zset-max-listpack-entries 128", "+OK\r\n"),
        ("config set zset-max-listpack-value 3", "+OK\r\n"),
        ("zadd f 1 abcd", ":1\r\n"),
        ("object encoding f", "$8\r\nskiplist\r\n"),
        ("zadd g 1 abc", ":1\r\n"),
        ("object encoding g", "$8\r\nlistpack\r\n"),
        ("zincrby g 1 abcde", ",1\r\n"),
        ("object encoding g", "$8\r\nskiplist\r\n"),
        ("config set zset-max-listpack-value 64", "+OK\r\n"),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, command, expected).await;
    }
}

/// ZRANK/ZREVRANK with Redis 7.2's WITHSCORE.
#[tokio::test]
async fn zrank_withscore_as_redis_7_2() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "ZADD z 1 a 2.5 b", ":2\r\n").await;
    must_reply(&mut s, "ZRANK z b WITHSCORE", "*2\r\n:1\r\n$3\r\n2.5\r\n").await;
    must_reply(&mut s, "ZREVRANK z b withscore", "*2\r\n:0\r\n$3\r\n2.5\r\n").await;
    must_reply(&mut s, "ZRANK z nope WITHSCORE", "*-1\r\n").await;
    must_reply(&mut s, "ZRANK nokey a WITHSCORE", "*-1\r\n").await;
    must_reply(&mut s, "ZRANK z a foo", "-ERR syntax error\r\n").await;
    must_reply(
        &mut s,
        "ZRANK z a withscore x",
        "-ERR wrong number of arguments for 'zrank' command\r\n",
    )
    .await;
    let mut s3 = resp3(&server).await;
    must_reply(&mut s3, "ZREVRANK z a WITHSCORE", "*2\r\n:1\r\n,1\r\n").await;
    must_reply(&mut s3, "ZRANK z nope WITHSCORE", "_\r\n").await;
    must_reply(&mut s3, "ZRANK z nope", "_\r\n").await;
}

/// The listpack → skiplist conversion happens at exactly the default limits.
#[tokio::test]
async fn conversion_at_the_default_thresholds() {
    let server = start_server().await;
    let mut con = server.client().await;
    for i in 0..128 {
        let _: i64 = cmd(&mut con, &["ZADD", "z", &i.to_string(), &format!("m{i}")]).await.unwrap();
    }
    let enc: String = cmd(&mut con, &["OBJECT", "ENCODING", "z"]).await.unwrap();
    assert_eq!(enc, "listpack");
    let _: i64 = cmd(&mut con, &["ZADD", "z", "1000", "m128"]).await.unwrap();
    let enc: String = cmd(&mut con, &["OBJECT", "ENCODING", "z"]).await.unwrap();
    assert_eq!(enc, "skiplist");
    let long = "x".repeat(64);
    let _: i64 = cmd(&mut con, &["ZADD", "y", "1", &long]).await.unwrap();
    let enc: String = cmd(&mut con, &["OBJECT", "ENCODING", "y"]).await.unwrap();
    assert_eq!(enc, "listpack");
    let longer = "x".repeat(65);
    let _: i64 = cmd(&mut con, &["ZADD", "y", "1", &longer]).await.unwrap();
    let enc: String = cmd(&mut con, &["OBJECT", "ENCODING", "y"]).await.unwrap();
    assert_eq!(enc, "skiplist");
    // Removing members never converts back.
    let _: i64 = cmd(&mut con, &["ZREM", "y", &longer]).await.unwrap();
    let enc: String = cmd(&mut con, &["OBJECT", "ENCODING", "y"]).await.unwrap();
    assert_eq!(enc, "skiplist");
    // A STORE result is created in the encoding that fits.
    let n: i64 = cmd(&mut con, &["ZRANGESTORE", "d", "z", "0", "9"]).await.unwrap();
    assert_eq!(n, 10);
    let enc: String = cmd(&mut con, &["OBJECT", "ENCODING", "d"]).await.unwrap();
    assert_eq!(enc, "listpack");
}

/// A large (skiplist) set: ranges, ranks, counts and scans agree with a model.
#[tokio::test]
async fn large_set_ranges_ranks_and_scan() {
    let server = start_server().await;
    let mut con = server.client().await;
    let n = 1000;
    let mut args: Vec<String> = vec!["ZADD".into(), "z".into()];
    for i in 0..n {
        args.push(((i % 100) as f64 / 4.0).to_string());
        args.push(format!("m{i:04}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let added: i64 = cmd(&mut con, &refs).await.unwrap();
    assert_eq!(added, n);
    let mut model: Vec<(f64, String)> =
        (0..n).map(|i| ((i % 100) as f64 / 4.0, format!("m{i:04}"))).collect();
    model.sort_by(|a, b| a.0.total_cmp(&b.0).then_with(|| a.1.cmp(&b.1)));
    let got: Vec<String> = cmd(&mut con, &["ZRANGE", "z", "100", "199"]).await.unwrap();
    let want: Vec<String> = model[100..200].iter().map(|(_, m)| m.clone()).collect();
    assert_eq!(got, want);
    let got: Vec<String> = cmd(&mut con, &["ZRANGE", "z", "-5", "-1", "REV"]).await.unwrap();
    let want: Vec<String> = model[..5].iter().rev().map(|(_, m)| m.clone()).collect();
    assert_eq!(got, want);
    for (rank, (_, m)) in model.iter().enumerate().step_by(97) {
        let r: i64 = cmd(&mut con, &["ZRANK", "z", m]).await.unwrap();
        assert_eq!(r, rank as i64);
        let r: i64 = cmd(&mut con, &["ZREVRANK", "z", m]).await.unwrap();
        assert_eq!(r, (n as usize - 1 - rank) as i64);
    }
    let count: i64 = cmd(&mut con, &["ZCOUNT", "z", "(2", "5"]).await.unwrap();
    assert_eq!(count, model.iter().filter(|(s, _)| *s > 2.0 && *s <= 5.0).count() as i64);
    let got: Vec<String> =
        cmd(&mut con, &["ZRANGEBYSCORE", "z", "(2", "5", "LIMIT", "3", "4"]).await.unwrap();
    let want: Vec<String> = model
        .iter()
        .filter(|(s, _)| *s > 2.0 && *s <= 5.0)
        .skip(3)
        .take(4)
        .map(|(_, m)| m.clone())
        .collect();
    assert_eq!(got, want);
    // A huge LIMIT count or range end allocates nothing up front.
    let got: Vec<String> = cmd(
        &mut con,
        &["ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "9223372036854775807"],
    )
    .await
    .unwrap();
    assert_eq!(got.len(), n as usize);
    // ZSCAN visits every member exactly with its score.
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let (next, items): (String, Vec<String>) =
            cmd(&mut con, &["ZSCAN", "z", &cursor, "COUNT", "50"]).await.unwrap();
        for pair in items.chunks(2) {
            seen.insert(pair[0].clone());
        }
        cursor = next;
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), n as usize);
    // Removing by rank, then popping everything, deletes the key.
    let removed: i64 = cmd(&mut con, &["ZREMRANGEBYRANK", "z", "0", "499"]).await.unwrap();
    assert_eq!(removed, 500);
    let first: Vec<String> = cmd(&mut con, &["ZRANGE", "z", "0", "0"]).await.unwrap();
    assert_eq!(first, vec![model[500].1.clone()]);
    let popped: Vec<String> = cmd(&mut con, &["ZPOPMAX", "z", "100000"]).await.unwrap();
    assert_eq!(popped.len(), 1000);
    let exists: i64 = cmd(&mut con, &["EXISTS", "z"]).await.unwrap();
    assert_eq!(exists, 0);
}

#[tokio::test]
async fn zrandmember_counts() {
    let server = start_server().await;
    let mut con = server.client().await;
    for key in ["small", "big"] {
        let n = if key == "small" { 10 } else { 300 };
        for i in 0..n {
            let _: i64 =
                cmd(&mut con, &["ZADD", key, &i.to_string(), &format!("m{i}")]).await.unwrap();
        }
        // Positive counts: distinct members, at most the set's size.
        for count in [1, 3, n / 2, n - 1, n, n + 5] {
            let got: Vec<String> =
                cmd(&mut con, &["ZRANDMEMBER", key, &count.to_string()]).await.unwrap();
            assert_eq!(got.len(), count.min(n));
            assert_eq!(got.iter().collect::<HashSet<_>>().len(), got.len());
        }
        // Negative counts: exactly that many, repeats allowed.
        let got: Vec<String> = cmd(&mut con, &["ZRANDMEMBER", key, "-1000"]).await.unwrap();
        assert_eq!(got.len(), 1000);
        assert!(got.iter().collect::<HashSet<_>>().len() < 1000);
        let got: Vec<String> =
            cmd(&mut con, &["ZRANDMEMBER", key, "5", "WITHSCORES"]).await.unwrap();
        assert_eq!(got.len(), 10);
        for pair in got.chunks(2) {
            assert_eq!(format!("m{}", pair[1]), pair[0]);
        }
        let one: String = cmd(&mut con, &["ZRANDMEMBER", key]).await.unwrap();
        assert!(one.starts_with('m'));
    }
}

/// Blocking pops: served at once when data is there; argument errors before waiting.
#[tokio::test]
async fn blocking_pops_immediate_paths() {
    let server = start_server().await;
    let mut s = server.raw().await;
    must_reply(&mut s, "ZADD z 1 a 2 b 3 c", ":3\r\n").await;
    must_reply(&mut s, "BZPOPMIN nokey z 0", "*3\r\n$1\r\nz\r\n$1\r\na\r\n$1\r\n1\r\n").await;
    must_reply(&mut s, "BZPOPMAX z 0.5", "*3\r\n$1\r\nz\r\n$1\r\nc\r\n$1\r\n3\r\n").await;
    must_reply(
        &mut s,
        "BZMPOP 0 2 nokey z MIN COUNT 5",
        "*2\r\n$1\r\nz\r\n*1\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n",
    )
    .await;
    must_reply(&mut s, "EXISTS z", ":0\r\n").await;
    must_reply(&mut s, "BZPOPMIN z -1", "-ERR timeout is negative\r\n").await;
    must_reply(&mut s, "BZMPOP abc 1 z MIN", "-ERR timeout is not a float or out of range\r\n")
        .await;
    must_reply(&mut s, "SET str x", "+OK\r\n").await;
    must_reply(
        &mut s,
        "BZPOPMIN nokey str 0",
        "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
    )
    .await;
}
#[tokio::test]
async fn redis_replies_resp2_sets_as_inputs() {
    let server = start_server().await;
    let mut s = server.raw().await;
    let cases: &[(&str, &str)] = &[
        ("flushall", "+OK\r\n"),
        ("zadd z 1 a 2 b 5 c", ":3\r\n"),
        ("sadd s a x 10", ":3\r\n"),
        ("sadd si 1 2 3", ":3\r\n"),
        ("zunion 2 z s withscores", "*10\r\n$2\r\n10\r\n$1\r\n1\r\n$1\r\nx\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n2\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n5\r\n"),
        ("zunion 3 z s si weights 2 3 4 aggregate max withscores", "*16\r\n$2\r\n10\r\n$1\r\n3\r\n$1\r\na\r\n$1\r\n3\r\n$1\r\nx\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\n4\r\n$1\r\n2\r\n$1\r\n4\r\n$1\r\n3\r\n$1\r\n4\r\n$1\r\nb\r\n$1\r\n4\r\n$1\r\nc\r\n$2\r\n10\r\n"),
        ("zinter 2 z s withscores", "*2\r\n$1\r\na\r\n$1\r\n2\r\n"),
        ("zinter 2 s si withscores", "*0\r\n"),
        ("zdiff 2 z s withscores", "*4\r\n$1\r\nb\r\n$1\r\n2\r\n$1\r\nc\r\n$1\r\n5\r\n"),
        ("zdiff 2 s z withscores", "*4\r\n$2\r\n10\r\n$1\r\n1\r\n$1\r\nx\r\n$1\r\n1\r\n"),
        ("zunionstore d 2 s si", ":6\r\n"),
        ("zrange d 0 -1 withscores", "*12\r\n$1\r\n1\r\n$1\r\n1\r\n$2\r\n10\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n1\r\n$1\r\na\r\n$1\r\n1\r\n$1\r\nx\r\n$1\r\n1\r\n"),
        ("object encoding d", "$8\r\nlistpack\r\n"),
        ("zinterstore d 2 z s weights 1 0", ":1\r\n"),
        ("zrange d 0 -1 withscores", "*2\r\n$1\r\na\r\n$1\r\n1\r\n"),
        ("zintercard 2 z s", ":1\r\n"),
        ("zdiffstore d 1 si", ":3\r\n"),
        ("zrange d 0 -1 withscores", "*6\r\n$1\r\n1\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n1\r\n"),
        ("set str v", "+OK\r\n"),
        ("zunion 2 z str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, command, expected).await;
    }
}

#[tokio::test]
async fn redis_replies_resp3_sets_as_inputs() {
    let server = start_server().await;
    let mut s = resp3(&server).await;
    let cases: &[(&str, &str)] = &[
        ("flushall", "+OK\r\n"),
        ("zadd z 1 a 2 b 5 c", ":3\r\n"),
        ("sadd s a x 10", ":3\r\n"),
        ("sadd si 1 2 3", ":3\r\n"),
        ("zunion 2 z s withscores", "*5\r\n*2\r\n$2\r\n10\r\n,1\r\n*2\r\n$1\r\nx\r\n,1\r\n*2\r\n$1\r\na\r\n,2\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\nc\r\n,5\r\n"),
        ("zunion 3 z s si weights 2 3 4 aggregate max withscores", "*8\r\n*2\r\n$2\r\n10\r\n,3\r\n*2\r\n$1\r\na\r\n,3\r\n*2\r\n$1\r\nx\r\n,3\r\n*2\r\n$1\r\n1\r\n,4\r\n*2\r\n$1\r\n2\r\n,4\r\n*2\r\n$1\r\n3\r\n,4\r\n*2\r\n$1\r\nb\r\n,4\r\n*2\r\n$1\r\nc\r\n,10\r\n"),
        ("zinter 2 z s withscores", "*1\r\n*2\r\n$1\r\na\r\n,2\r\n"),
        ("zinter 2 s si withscores", "*0\r\n"),
        ("zdiff 2 z s withscores", "*2\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\nc\r\n,5\r\n"),
        ("zdiff 2 s z withscores", "*2\r\n*2\r\n$2\r\n10\r\n,1\r\n*2\r\n$1\r\nx\r\n,1\r\n"),
        ("zunionstore d 2 s si", ":6\r\n"),
        ("zrange d 0 -1 withscores", "*6\r\n*2\r\n$1\r\n1\r\n,1\r\n*2\r\n$2\r\n10\r\n,1\r\n*2\r\n$1\r\n2\r\n,1\r\n*2\r\n$1\r\n3\r\n,1\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nx\r\n,1\r\n"),
        ("object encoding d", "$8\r\nlistpack\r\n"),
        ("zinterstore d 2 z s weights 1 0", ":1\r\n"),
        ("zrange d 0 -1 withscores", "*1\r\n*2\r\n$1\r\na\r\n,1\r\n"),
        ("zintercard 2 z s", ":1\r\n"),
        ("zdiffstore d 1 si", ":3\r\n"),
        ("zrange d 0 -1 withscores", "*3\r\n*2\r\n$1\r\n1\r\n,1\r\n*2\r\n$1\r\n2\r\n,1\r\n*2\r\n$1\r\n3\r\n,1\r\n"),
        ("set str v", "+OK\r\n"),
        ("zunion 2 z str", "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n"),
    ];
    for (command, expected) in cases {
        must_reply(&mut s, command, expected).await;
    }
}

/// -0 and 0 are one score to Redis (it compares with `<` and `==`), so members tie on their
/// bytes whichever sign a computed score has: in ZADD, in the algebra's results and in their
/// STORE variants. Compared reply by reply with redis-server.
#[tokio::test]
async fn negative_zero_scores_order_as_in_redis() {
    let reference = start_reference_redis();
    let ours = start_server().await;
    let mut theirs = redis::Client::open(format!("redis://127.0.0.1:{}/", reference.port))
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut mine = ours.client().await;
    let script: &[&[&str]] = &[
        &["ZADD", "z", "-0", "b", "0", "a", "-0", "d", "0", "c"],
        &["ZRANGE", "z", "0", "-1", "WITHSCORES"],
        &["ZADD", "k", "-5", "m8", "3", "m5", "-1", "m10", "2", "m9", "-7", "m1", "4", "m11"],
        &["ZUNION", "1", "k", "WEIGHTS", "0", "WITHSCORES"],
        &["ZINTER", "2", "k", "k", "WEIGHTS", "0", "1", "AGGREGATE", "MIN", "WITHSCORES"],
        &["ZUNIONSTORE", "u", "1", "k", "WEIGHTS", "0"],
        &["ZRANGE", "u", "0", "-1", "WITHSCORES"],
        &["ZRANGEBYSCORE", "u", "0", "0"],
        &["ZRANK", "u", "m5"],
    ];
    for args in script {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        let want: redis::Value = cmd.query_async(&mut theirs).await.unwrap();
        let got: redis::Value = cmd.query_async(&mut mine).await.unwrap();
        assert_eq!(got, want, "{args:?}");
    }
}
