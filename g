> sort l by h_*- alpha
1) "b"
2) "a"
3) "c"
4) "d"
