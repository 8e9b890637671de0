plugin.so: my\ file.c a$$b.h x\#y.h \
 c.h

c.h:

# comment
x\\ y.h:
