/* Fuzz target: arbitrary bytes through the recording parser of
 * differential replay (versions/recording.c). Nothing may crash, leak or
 * read out of bounds; a refusal must name the file and an offset inside it. */
#include "recording.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    void *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    hb_recording rec;
    char *err = NULL;
    int r = hb__rec_parse(copy, size, "f", &rec, &err);
    if (r == 0) {
        for (size_t i = 0; i < rec.ncalls; i++)
            if (rec.calls[i].segment >= rec.nsegments ||
                rec.calls[i].offset >= size)
                abort();
        hb__rec_release(&rec);
    } else if (r == -EBADMSG) {
        unsigned long long off;
        if (!err || strncmp(err, "f:", 2) != 0 || sscanf(err + 2, "%llu", &off) != 1 ||
            off > size)
            abort();
    }
    free(err);
    return 0;
}
