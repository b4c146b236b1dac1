> sort l by h_*- alpha limit 0 2
1) "b"
2) "a"
