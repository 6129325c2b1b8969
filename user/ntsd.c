/* ntsd entry point: placeholder until the daemon lands (user/net owns the loop). */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "ntsd: not built yet in this version\n");
	return 1;
}
