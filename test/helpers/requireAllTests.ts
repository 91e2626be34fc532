/**
 * A vitest reporter for CI (`BNN_REQUIRE_ALL_TESTS=1`, see vitest.config.ts): a skipped or todo test
 * fails the run, so a test that silently stops running (a missing package, an addon that did not
 * build) cannot pass CI. The one exception is a test that needs a CPU feature: its name carries
 * `cpuFeature(...)`'s tag, since CI cannot choose the runner's CPU.
 */
import * as path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node';

const CPU_FEATURE_TAG = /\[needs CPU feature [^\]]+\]/;

/** Tag for the name of a test that can only run on a CPU with `feature`. */
export function cpuFeature(feature: string): string {
  return `[needs CPU feature ${feature}]`;
}

export default class RequireAllTests implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const skipped: string[] = [];
    let cpuSkips = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        if (test.result().state !== 'skipped') continue;
        if (CPU_FEATURE_TAG.test(test.fullName)) cpuSkips++;
        else skipped.push(`  ${path.relative(process.cwd(), module.moduleId)}: ${test.fullName}`);
      }
    }
    if (cpuSkips > 0)
      console.log(`BNN_REQUIRE_ALL_TESTS: ${cpuSkips} test(s) skipped for a CPU feature this machine lacks`);
    if (skipped.length === 0) return;
    console.error(
      `BNN_REQUIRE_ALL_TESTS: ${skipped.length} test(s) skipped; install what they need:\n${skipped.join('\n')}`,
    );
    process.exitCode = 1;
  }
}
