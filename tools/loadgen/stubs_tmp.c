#include "lg.h"
int lg_cmd_alloc(const struct lg_opts *o) { return -1; }
int lg_cmd_api(const struct lg_opts *o) { return -1; }
