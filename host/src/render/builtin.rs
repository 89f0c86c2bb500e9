//! The built-in templates, embedded in the binary. Each works as shipped;
//! a user file with the same name replaces it.

/// Name and text of every built-in template.
pub(super) const TEMPLATES: &[(&str, &str)] = &[
    ("kickstart", include_str!("templates/kickstart")),
    ("preseed", include_str!("templates/preseed")),
    (
        "autoinstall/user-data",
        include_str!("templates/autoinstall/user-data"),
    ),
    (
        "autoinstall/meta-data",
        include_str!("templates/autoinstall/meta-data"),
    ),
    (
        "image/deploy.conf",
        include_str!("templates/image/deploy.conf"),
    ),
    ("image/user-data", include_str!("templates/image/user-data")),
    ("image/meta-data", include_str!("templates/image/meta-data")),
    ("boot/grub.cfg", include_str!("templates/boot/grub.cfg")),
    (
        "boot/grub-local.cfg",
        include_str!("templates/boot/grub-local.cfg"),
    ),
    (
        "boot/grub-menu.cfg",
        include_str!("templates/boot/grub-menu.cfg"),
    ),
    (
        "boot/pxelinux.cfg",
        include_str!("templates/boot/pxelinux.cfg"),
    ),
    (
        "boot/pxelinux-local.cfg",
        include_str!("templates/boot/pxelinux-local.cfg"),
    ),
    (
        "boot/pxelinux-menu.cfg",
        include_str!("templates/boot/pxelinux-menu.cfg"),
    ),
    (
        "snippets/callback.sh",
        include_str!("templates/snippets/callback.sh"),
    ),
    (
        "snippets/kickstart_network",
        include_str!("templates/snippets/kickstart_network"),
    ),
    (
        "snippets/grub_boot_disk.cfg",
        include_str!("templates/snippets/grub_boot_disk.cfg"),
    ),
    (
        "snippets/grub_entry.cfg",
        include_str!("templates/snippets/grub_entry.cfg"),
    ),
    (
        "snippets/pxelinux_entry.cfg",
        include_str!("templates/snippets/pxelinux_entry.cfg"),
    ),
];

/// A built-in's text.
pub(super) fn get(name: &str) -> Option<&'static str> {
    TEMPLATES
        .iter()
        .find(|(builtin, _)| *builtin == name)
        .map(|(_, text)| *text)
}
