#nullable enable
// An MSBuild inline task (see Directory.Build.targets). On a fresh clone every project's restore needs the local
// `paket` tool and Paket's packages, and MSBuild's parallel nodes reach that point together: two `dotnet tool restore`
// runs race on the same .nupkg in the NuGet cache ("being used by another process"), and Paket's own lock file is
// check-then-write, so two `paket restore` runs can download the same package at once. This task makes one node do
// the work while the others wait on an exclusive file lock, then lets every node see the result through a stamp.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.IO;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;

namespace Functional.Build
{
    /// <summary>
    /// Runs <c>dotnet tool restore</c> and then <c>dotnet paket restore</c> in the repository root once per change of
    /// the tool manifest, <c>paket.lock</c> or <c>NUGET_PACKAGES</c>, holding <c>obj/tool-restore.lock</c> exclusively
    /// (<see cref="FileShare.None"/>) around check-stamp / restore / write-stamp.
    /// </summary>
    public class RestoreToolsOnce : Microsoft.Build.Utilities.Task
    {
        /// <summary>The repository root (holds <c>.config/dotnet-tools.json</c> and <c>paket.lock</c>).</summary>
        [Microsoft.Build.Framework.Required]
        public string RepositoryRoot { get; set; } = "";

        /// <summary>The NuGet package folder (<c>$(NuGetPackageRoot)</c>, empty before the first restore), where the
        /// restored tools must be for the stamp to count.</summary>
        public string PackagesFolder { get; set; } = "";

        /// <summary>How long a node waits for another node's restore before it gives up.</summary>
        public int TimeoutSeconds { get; set; } = 1800;

        /// <summary>True when Paket's packages are restored for the current paket.lock (so the per-project restore may
        /// skip its own full restore).</summary>
        [Microsoft.Build.Framework.Output]
        public bool PaketRestored { get; set; }

        /// <inheritdoc />
        public override bool Execute()
        {
            var root = Path.GetFullPath(RepositoryRoot);
            var manifest = Path.Combine(root, ".config", "dotnet-tools.json");
            if (!File.Exists(manifest)) return true;
            var objDir = Path.Combine(root, "obj");
            var stampPath = Path.Combine(objDir, "tool-restore.stamp");
            // The key depends on the environment, not on the evaluation (NuGetPackageRoot is empty in the very first
            // restore and set afterwards), so it cannot flip between builds.
            var nugetPackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? "";
            var packages = !string.IsNullOrWhiteSpace(nugetPackages) ? nugetPackages : PackagesFolder;
            var key = StampKey(root, manifest, nugetPackages);

            if (UpToDate(root, stampPath, key, manifest, packages))
            {
                PaketRestored = true;
                return true;
            }

            Directory.CreateDirectory(objDir);
            var lockPath = Path.Combine(objDir, "tool-restore.lock");
            using (var gate = AcquireLock(lockPath))
            {
                if (gate is null) return false;
                // Another node may have finished while this one waited.
                if (UpToDate(root, stampPath, key, manifest, packages))
                {
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low,
                        "Functional: local tools and Paket packages were restored by another build node.");
                    PaketRestored = true;
                    return true;
                }
                if (!Run(root, "tool restore")) return false;
                if (File.Exists(Path.Combine(root, "paket.lock")) && !Run(root, "paket restore")) return false;
                // Nodes that read the stamp without the lock and see it half-written take the lock and check again.
                File.WriteAllText(stampPath, key);
            }
            PaketRestored = true;
            return true;
        }

        /// <summary>What the stamp records: the inputs that decide whether the restores must run again.</summary>
        private static string StampKey(string root, string manifest, string nugetPackages)
        {
            var text = new StringBuilder();
            text.Append(File.ReadAllText(manifest)).Append('\0');
            var lockFile = Path.Combine(root, "paket.lock");
            if (File.Exists(lockFile)) text.Append(File.ReadAllText(lockFile));
            text.Append('\0').Append(nugetPackages);
            using var sha = SHA256.Create();
            return BitConverter.ToString(sha.ComputeHash(Encoding.UTF8.GetBytes(text.ToString()))).Replace("-", "");
        }

        /// <summary>The stamp matches and what it promises is still there (the tools in the package folder, when it is
        /// known; Paket's restore record), so a cleared NuGet cache or a deleted paket-files/ restores again.</summary>
        private static bool UpToDate(string root, string stampPath, string key, string manifest, string packages)
        {
            try
            {
                if (!File.Exists(stampPath) || File.ReadAllText(stampPath).Trim() != key) return false;
            }
            catch (IOException) { return false; }
            if (!string.IsNullOrWhiteSpace(packages))
                foreach (var (id, version) in Tools(manifest))
                    if (!Directory.Exists(Path.Combine(packages, id.ToLowerInvariant(), version.ToLowerInvariant()))) return false;
            return !File.Exists(Path.Combine(root, "paket.lock"))
                || File.Exists(Path.Combine(root, "paket-files", "paket.restore.cached"));
        }

        /// <summary>(id, version) of each tool in a dotnet-tools.json manifest.</summary>
        private static IEnumerable<(string Id, string Version)> Tools(string manifest)
        {
            var json = File.ReadAllText(manifest);
            foreach (Match m in Regex.Matches(json, "\"([A-Za-z0-9_.\\-]+)\"\\s*:\\s*\\{\\s*\"version\"\\s*:\\s*\"([^\"]+)\""))
                yield return (m.Groups[1].Value, m.Groups[2].Value);
        }

        /// <summary>Opens the lock file exclusively, retrying until the timeout; null (with an error logged) on timeout.</summary>
        private FileStream? AcquireLock(string path)
        {
            var clock = Stopwatch.StartNew();
            var told = false;
            while (true)
            {
                try
                {
                    return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
                }
                catch (IOException) when (clock.Elapsed.TotalSeconds < TimeoutSeconds)
                {
                    if (!told)
                    {
                        Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Normal,
                            $"Functional: waiting for another build node to restore the local tools and Paket packages ({path}).");
                        told = true;
                    }
                    Thread.Sleep(250);
                }
                catch (IOException e)
                {
                    Log.LogError($"Functional: gave up after {TimeoutSeconds} s waiting for {path}, held by another build that is " +
                                 $"restoring the local tools and Paket packages ({e.Message}). If no other build is running, run " +
                                 "'dotnet tool restore' and 'dotnet paket restore' in the repository root, then build again.");
                    return null;
                }
            }
        }

        /// <summary>Runs the dotnet CLI that runs this build (DOTNET_HOST_PATH), or the one on PATH.</summary>
        private bool Run(string root, string arguments)
        {
            var host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
            if (string.IsNullOrEmpty(host) || !File.Exists(host)) host = "dotnet";
            Log.LogMessage(Microsoft.Build.Framework.MessageImportance.High, $"Functional: dotnet {arguments}");
            var psi = new ProcessStartInfo(host, arguments)
            {
                WorkingDirectory = root,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            var output = new StringBuilder();
            using (var process = new Process { StartInfo = psi })
            {
                DataReceivedEventHandler collect = (_, e) =>
                {
                    if (e.Data is null) return;
                    lock (output) output.AppendLine(e.Data);
                };
                process.OutputDataReceived += collect;
                process.ErrorDataReceived += collect;
                process.Start();
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                process.WaitForExit();
                if (process.ExitCode == 0)
                {
                    Log.LogMessage(Microsoft.Build.Framework.MessageImportance.Low, output.ToString());
                    return true;
                }
                Log.LogError($"Functional: 'dotnet {arguments}' in {root} failed with exit code {process.ExitCode}:{Environment.NewLine}{output}");
                return false;
            }
        }
    }
}
