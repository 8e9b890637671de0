/tmp/j/plugin.so: /tmp/p/a.c /usr/include/stdc-predef.h \
 /tmp/inc/api.h /tmp/p/local.h
