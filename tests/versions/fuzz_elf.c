/* libFuzzer target for the ELF analyser: any bytes must give 0 or a clean
 * error, never a crash, a leak or a read outside the image. */
#include <stdint.h>
#include <stdlib.h>

#include "elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    hb_elf_info info;
    char *err = NULL;
    if (hb_elf_analyze(data, size, &info, &err) == 0)
        hb_elf_info_release(&info);
    free(err);
    return 0;
}
