/* maisond entry point (being built). */
#include <stdio.h>
int main(void)
{
    puts("maisond");
    return 0;
}
