//! `awl boot`: quick mode, as pixiecore's `boot`. Every PXE machine on
//! one segment network-boots into the kernel given on the command line,
//! with no inventory to write: awl makes a folder of its own holding
//! Debian's iPXE binaries (unless `--tftp-root` has them), the kernel and
//! initrd(s), and an inventory whose `[unknown]` machines all get that
//! boot, then serves it as `awl serve` would. As a proxyDHCP by default, so
//! it is safe beside the network's own DHCP server.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser};

use super::serve::{resolve, ServeArgs, ServeSettings};

/// Where Debian's `ipxe` package puts its binaries.
const IPXE_DIR: &str = "/usr/lib/ipxe";

/// The boot loaders PXE ROMs get (`awl serve`'s defaults).
const LOADERS: &[&str] = &["undionly.kpxe", "ipxe.efi"];

/// `awl boot`'s flags.
#[derive(Debug, Args)]
pub struct BootArgs {
    /// The kernel every machine boots.
    #[arg(long)]
    pub kernel: PathBuf,
    /// Its initrd (repeatable, in order).
    #[arg(long)]
    pub initrd: Vec<PathBuf>,
    /// The kernel command line.
    #[arg(long, default_value = "")]
    pub cmdline: String,
    /// The segment's interface (DHCP on ports 67 and 4011).
    #[arg(long)]
    pub interface: String,
    /// Be the segment's DHCP server for this range (FIRST,LAST) instead of
    /// a proxyDHCP beside it.
    #[arg(long)]
    pub dhcp_range: Option<String>,
    /// HTTP port (kernel, initrd, scripts).
    #[arg(long, default_value_t = 80)]
    pub http_port: u16,
    /// Where awl keeps its folder [default: a new one under the system's
    /// temporary folder, removed at exit].
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// The folder `awl boot` serves from; removed when dropped if awl made it.
pub struct QuickDir {
    path: PathBuf,
    made: bool,
}

impl Drop for QuickDir {
    fn drop(&mut self) {
        if self.made {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Lays out the folder and the inventory, and resolves the settings as
/// `awl serve` would with them.
pub fn settings(args: &BootArgs) -> Result<(ServeSettings, QuickDir)> {
    let dir = match &args.dir {
        Some(d) => QuickDir {
            path: d.clone(),
            made: false,
        },
        None => QuickDir {
            path: std::env::temp_dir().join(format!("awl-boot-{}", std::process::id())),
            made: true,
        },
    };
    let root = dir.path.join("root");
    std::fs::create_dir_all(root.join("quick"))
        .with_context(|| format!("cannot make {}", root.display()))?;
    for loader in LOADERS {
        let from = Path::new(IPXE_DIR).join(loader);
        if !root.join(loader).exists() {
            copy(&from, &root.join(loader)).with_context(|| {
                format!("{loader}: from Debian's ipxe package (apt-get install ipxe)")
            })?;
        }
    }
    let kernel = place(&args.kernel, &root, "quick/kernel")?;
    let mut initrds = Vec::new();
    for (i, initrd) in args.initrd.iter().enumerate() {
        initrds.push(place(initrd, &root, &format!("quick/initrd{i}"))?);
    }
    let inventory = dir.path.join("inventory.toml");
    let toml_list = |items: &[String]| {
        items
            .iter()
            .map(|i| format!("{i:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    std::fs::write(
        &inventory,
        format!(
            "# awl boot: every machine boots this kernel.\n\
             [unknown]\naction = \"default-profile\"\nprofile = \"quick\"\n\n\
             [[distro]]\nname = \"quick\"\nkernel = {kernel:?}\ninitrd = [{}]\nkernel_args = {:?}\n\n\
             [[profile]]\nname = \"quick\"\ndistro = \"quick\"\n",
            toml_list(&initrds),
            args.cmdline
        ),
    )
    .with_context(|| format!("cannot write {}", inventory.display()))?;
    let mut argv: Vec<String> = vec![
        "serve".into(),
        "--tftp-root".into(),
        root.display().to_string(),
        "--http-listen".into(),
        format!("0.0.0.0:{}", args.http_port),
        "--inventory".into(),
        inventory.display().to_string(),
        "--interface".into(),
        args.interface.clone(),
        "--lease-file".into(),
        dir.path.join("leases").display().to_string(),
    ];
    match &args.dhcp_range {
        Some(range) => argv.extend(["--dhcp-range".into(), range.clone()]),
        None => argv.push("--proxy".into()),
    }
    let serve = match Wrapper::try_parse_from(&argv) {
        Ok(w) => w.serve,
        Err(e) => bail!("awl boot: {e}"),
    };
    Ok((resolve(serve)?, dir))
}

#[derive(Parser)]
struct Wrapper {
    #[command(flatten)]
    serve: ServeArgs,
}

/// `from` into the folder as `name` (a hard link when it can, else a
/// copy); returns the path under the root.
fn place(from: &Path, root: &Path, name: &str) -> Result<String> {
    if !from.is_file() {
        bail!("{}: no such file", from.display());
    }
    copy(from, &root.join(name))?;
    Ok(name.to_string())
}

fn copy(from: &Path, to: &Path) -> Result<()> {
    let _ = std::fs::remove_file(to);
    if std::fs::hard_link(from, to).is_err() {
        std::fs::copy(from, to)
            .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    }
    Ok(())
}
