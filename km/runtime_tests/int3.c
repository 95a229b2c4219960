// Hits int3 twice, then exits 0: without a debugger km ends it with SIGTRAP at the first.
int main(void) {
  __asm__ volatile("int3");
  __asm__ volatile("int3");
  return 0;
}
